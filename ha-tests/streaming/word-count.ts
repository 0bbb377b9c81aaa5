// The word-count proof, on real processes: `vigil run examples/word-count.ts` over a directory of generated
// text files (several files, unicode words in composed and decomposed forms, empty lines, CRLF, a hidden file
// and a subdirectory the source must skip) on 3 JobManagers and 2 TaskManagers, the leader SIGKILLed once and a
// TaskManager once while it runs, each replaced. The committed output must be exactly-once and complete: every
// word's counts exactly 1..(its occurrences), counted by the checker with the example's own tokenizer. Runs on
// every backend (etcd-streaming.test.ts, zookeeper-streaming.test.ts).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnVigil } from "../../src/local/processes.ts";
import { checkWordCountOutput, importTokenizer, type Tokenizer } from "../../src/local/word-count-check.ts";
import { StreamingCluster } from "./streaming-cluster.ts";

const APP = "examples/word-count.ts";
/** 12 files of 50 lines, 6 files per source subtask at R lines/s: about 6 s of input without failures. */
const FILES = 12;
const LINES_PER_FILE = 50;
const RATE = 50;
const CHECKPOINT_MS = 500;

export function describeWordCount(backend: "etcd" | "zookeeper"): void {
  describe(`word-count on ${backend}: exactly-once across a JobManager and a TaskManager kill`, () => {
    let fixture: StreamingCluster;
    let words: Tokenizer;

    beforeAll(async () => {
      words = await importTokenizer(APP);
      fixture = await StreamingCluster.start(backend, "word-count");
    });

    afterAll(async () => {
      await fixture?.stop();
    });

    it("counts the words of a directory of text files and follows the job to FINISHED", async () => {
      const input = join(fixture.scratch, "small-in");
      const output = join(fixture.scratch, "small-out");
      await writeTextFiles(input, { files: 3, linesPerFile: 40, seed: 1 });
      const run = spawnVigil([
        "run",
        APP,
        "--parallelism",
        "2",
        ...fixture.cluster.haArgs(),
        "--",
        "--input",
        input,
        "--output",
        output,
        "--checkpoint-interval",
        String(CHECKPOINT_MS),
      ]);
      const status = await run.exited();
      expect({ status, stderr: run.stderr() }).toMatchObject({ status: { code: 0 } });
      expect(run.stdout()).toMatch(
        /^submitted job ([0-9a-f]+) \(word-count\) to leader epoch \d+\njob \1: FINISHED\n+$/,
      );
      const report = await checkWordCountOutput(input, output, words);
      expect(report.problems).toEqual([]);
      expect(report.lines).toBeGreaterThan(0);
    }, 60_000);

    it("commits every word's counts exactly once through a leader kill and a TaskManager kill", async () => {
      const input = join(fixture.scratch, "proof-in");
      const output = join(fixture.scratch, "proof-out");
      await writeTextFiles(input, { files: FILES, linesPerFile: LINES_PER_FILE, seed: 4 });
      const jobId = await fixture.submitDetached(APP, [
        "--input",
        input,
        "--output",
        output,
        "--rate",
        String(RATE),
        "--checkpoint-interval",
        String(CHECKPOINT_MS),
      ]);

      // Each fault once a checkpoint completed since the last one: progress to lose and a checkpoint to restore.
      await fixture.checkpointAfter(jobId, 0);
      expect(await fixture.stateOf(jobId), "the input must outlast the faults: is --rate in effect?").toBe(
        "JOB_STATE_RUNNING",
      );
      const faults = [fixture.killLeader, fixture.killTaskManager];
      for (const fault of faults) await fixture.injectFault(jobId, fault);
      await fixture.waitForState(jobId, "JOB_STATE_FINISHED", 60_000);

      const report = await checkWordCountOutput(input, output, words);
      expect(report.problems).toEqual([]);
      expect(report.lines).toBe(report.occurrences);
      expect(report.occurrences).toBeGreaterThan(2_000);

      const { deployments, fromNothing } = fixture.restoresAfterFirstCheckpoint(jobId);
      expect(deployments.length).toBeGreaterThanOrEqual(faults.length);
      expect(fromNothing).toEqual([]);
    }, 120_000);
  });
}

// Common words first: drawn with a skew, so some words occur hundreds of times and their counts cross many
// checkpoints and both faults. The unicode ones come in several spellings that are one word each
// (case, composed or decomposed accents, typographic apostrophes).
const VOCABULARY = [
  "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by",
  "word but what some we can out other were all there when up use your how said an each she which do their",
  "time if will way about many then them write would like so these her long make thing see him two has look",
  "more day could go come did number sound no most people café CAFE\u0301 naïve nai\u0308ve über Straße",
  "don't DON’T l'été L’ÉTÉ 東京 日本語 नमस्ते दुनिया мир Привет ελλάδα ΟΔΟΣ مرحبا שלום 2024 42nd İstanbul ça",
  "año Ærø smörgåsbord jalapeño façade coöperate résumé fiancée",
]
  .join(" ")
  .split(" ");
const SEPARATORS = [" ", " ", " ", ", ", ". ", "; ", " -- ", " (", ") ", "! ", "? ", ": ", "\t", " ' "];

/** Writes `files` text files of `linesPerFile` lines (the same for the same seed), plus what the source skips. */
async function writeTextFiles(
  dir: string,
  { files, linesPerFile, seed }: { files: number; linesPerFile: number; seed: number },
): Promise<void> {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[], skew = 1): T => items[Math.floor(random() ** skew * items.length)]!;
  await mkdir(join(dir, "notes"), { recursive: true });
  for (let f = 0; f < files; f++) {
    let text = "";
    for (let l = 0; l < linesPerFile; l++) {
      // About one line in ten is empty.
      const n = random() < 0.1 ? 0 : 1 + Math.floor(random() * 14);
      let line = "";
      for (let w = 0; w < n; w++) {
        const word = pick(VOCABULARY, 2.5);
        line += (w === 0 ? "" : pick(SEPARATORS)) + (random() < 0.05 ? `'${word}'` : word);
      }
      text += line + (random() < 0.2 ? "\r\n" : "\n");
    }
    // Some files end without a line break.
    await writeFile(join(dir, `part-${String(f).padStart(2, "0")}.txt`), f % 3 === 0 ? text.trimEnd() : text);
  }
  await writeFile(join(dir, "empty.txt"), "");
  await writeFile(join(dir, ".draft.txt"), "hidden words are not read\n");
  await writeFile(join(dir, "notes", "nested.txt"), "nor are the files of subdirectories\n");
}

/** A small seeded PRNG: the same input on every run and machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
