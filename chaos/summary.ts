// The terminal's view of a chaos run: a verdict per invariant, the failover statistics, and where the report is.
import { failoverTable } from "./failover-stats.ts";
import type { ChaosResult } from "./runner.ts";

export function printResult(result: ChaosResult, out: { write(text: string): unknown }): void {
  const verdicts = result.verdicts.map((v) => [
    v.id,
    v.name,
    v.valid === true ? "valid" : v.valid === false ? "INVALID" : "unknown",
    v.problems[0] ?? v.evidence?.[0] ?? "",
  ]);
  out.write(table(["invariant", "", "verdict", "first problem / evidence"], verdicts));
  for (const v of result.verdicts) {
    if (v.problems.length > 1)
      out.write(
        `${v.id}: ${v.problems
          .slice(1)
          .map((p) => `\n  ${p}`)
          .join("")}\n`,
      );
  }
  const failover = failoverTable(result.failover);
  out.write("\n");
  out.write(
    failover.rows.length > 0 ? table(failover.columns, failover.rows) : "no leader failover measured\n",
  );
  out.write(
    `\n${result.faultsInjected} faults injected; client operations: ${result.ops.ok} ok, ${result.ops.fail} fail, ` +
      `${result.ops.info} info (outcome unknown)\n` +
      `overall: ${result.overall === true ? "valid" : result.overall === false ? "INVALID" : "unknown"}\n` +
      `report: ${result.reportPath}\n`,
  );
}

function table(columns: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [columns, ...rows].map((r) => r.map((c) => String(c)));
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return (
    [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n") +
    "\n"
  );
}
