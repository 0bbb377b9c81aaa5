// What an exactly-once file sink has committed: the lines of the visible files of its directory. In-progress
// and pending files start with a dot (as with Flink's file sink) and are never read as output.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Every non-empty line of the committed (visible) files of `dir`, files in name order. */
export async function committedLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const file of await visibleFiles(dir)) {
    for (const line of (await readFile(join(dir, file), "utf8")).split("\n"))
      if (line !== "") lines.push(line);
  }
  return lines;
}

/** Names of the uncommitted (dot-named) files of `dir`: in-progress and pending parts. */
export async function uncommittedFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith(".")).sort();
}

/** The visible regular files of `dir`, sorted. */
export async function visibleFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
}
