// Machine-readable output: one JSON object per line on stdout; bigints become decimal strings.
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

export function emit(value: unknown): void {
  process.stdout.write(jsonLine(value) + "\n");
}
