import type { VigilEvent } from "../common/events.ts";
import { isStdoutClosed } from "./signals.ts";

// Machine-readable output: one JSON object per line on stdout; bigints become decimal strings.
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** Writes one JSON line to stdout; nothing once stdout is gone. */
export function emit(value: unknown): void {
  if (!isStdoutClosed()) process.stdout.write(jsonLine(value) + "\n");
}

/**
 * Prints a process's structured event with `at`: wall-clock milliseconds (fractional), comparable across the
 * processes of one host — tests and checkers order events of different processes by it.
 */
export function emitEvent(event: VigilEvent): void {
  emit({ ...event, at: performance.timeOrigin + performance.now() });
}
