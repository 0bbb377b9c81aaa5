// Loading an application module (TypeScript or JavaScript, ESM) by path: the client loads the file the user
// names, a TaskManager the file it fetched from the blob store. Loading is Node's module loader with tsx's
// hooks and ours ("vigil" → this API); no source text is ever evaluated as a string.
//
// Every call imports a fresh instance of the application (a tsx namespace of its own), as a new TaskManager
// process would: running main twice in one module instance could differ from running it on a TaskManager
// when the module keeps state between calls. Node cannot unload modules, so each call keeps its instance
// alive; callers that run the same artifact repeatedly should reuse the loaded module.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { register } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { register as registerTsx } from "tsx/esm/api";
import { describeCause } from "../common/errors.ts";
import type { ApplicationModule } from "./environment.ts";
import { ApplicationError } from "./errors.ts";

/** The module applications get for `import … from "vigil"`. */
export const VIGIL_API_URL = new URL("./index.ts", import.meta.url).href;

let hookRegistered = false;

/** Maps the specifier "vigil" to VIGIL_API_URL for every module loaded after this call. Once per process. */
export function registerVigilSpecifier(): void {
  if (hookRegistered) return;
  register("./resolve-hook.mjs", import.meta.url, { data: { target: VIGIL_API_URL } });
  hookRegistered = true;
}

/** Imports the application at `path` in a fresh module instance and checks that it exports `main`. */
export async function importApplication(path: string): Promise<ApplicationModule> {
  const file = resolve(path);
  await checkEsModule(path, file);
  registerVigilSpecifier();
  // Registered before the import and left active: a namespace's hooks must stay for the application's own
  // dynamic imports; they only act on modules of their namespace.
  const namespace = registerTsx({ namespace: `vigil-app-${randomUUID()}` });
  let exports: unknown;
  try {
    exports = await namespace.import(pathToFileURL(file).href, import.meta.url);
  } catch (e: unknown) {
    throw new ApplicationError(`application ${path} could not be loaded: ${describeCause(e)}`, e);
  }
  return applicationModule(exports, path);
}

/** `exports` as an ApplicationModule, or an ApplicationError saying what the module must export. */
export function applicationModule(exports: unknown, path: string): ApplicationModule {
  const main = typeof exports === "object" && exports !== null ? Reflect.get(exports, "main") : undefined;
  if (typeof main !== "function") {
    throw new ApplicationError(
      `application ${path} exports no function "main"; export one: export async function main(env, args) { … }`,
    );
  }
  return { main: main as ApplicationModule["main"] };
}

const ESM_EXTENSIONS = new Set([".mts", ".mjs"]);
const SCOPED_EXTENSIONS = new Set([".ts", ".js", ".tsx", ".jsx"]);

// tsx loads a .ts file outside a "type": "module" package as CommonJS, where the "vigil" mapping (an ESM
// hook) does not apply; say so instead of failing with "Cannot find module 'vigil'".
async function checkEsModule(path: string, file: string): Promise<void> {
  const ext = extname(file);
  if (ESM_EXTENSIONS.has(ext)) return;
  if (!SCOPED_EXTENSIONS.has(ext)) {
    throw new ApplicationError(
      `application ${path}: ${ext === "" ? "no file extension" : `extension ${ext}`} is not an ES module's; use .ts, .mts, .js or .mjs`,
    );
  }
  const scope = await packageScope(dirname(file));
  if (scope?.type !== "module") {
    const where =
      scope === undefined ? "no package.json encloses it" : `${scope.file} has no "type": "module"`;
    throw new ApplicationError(
      `application ${path} is not an ES module: ${where}; rename it to ${ext === ".ts" || ext === ".tsx" ? ".mts" : ".mjs"} or add "type": "module" to its package.json`,
    );
  }
}

/** The nearest package.json at or above `dir`, as Node finds it to decide a file's module format. */
async function packageScope(dir: string): Promise<{ file: string; type: unknown } | undefined> {
  for (let current = dir; ; ) {
    const file = join(current, "package.json");
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch (e: unknown) {
      if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    }
    if (text !== undefined) {
      let type: unknown;
      try {
        type = (JSON.parse(text) as { type?: unknown }).type;
      } catch (e: unknown) {
        throw new ApplicationError(`${file} is not valid JSON: ${describeCause(e)}`, e);
      }
      return { file, type };
    }
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}
