// What the client does with `vigil run APP -- ARGS`: load APP, run its main to build the JobGraph, then load
// it again in a fresh module instance and resolve its functions against that graph exactly as every
// TaskManager will. An application whose functions a TaskManager could not resolve (its main is not
// deterministic, it fails on a second run) is refused here, at submission, not after deployment.
import type { CompiledApplication, CompileOptions } from "./compile.ts";
import { compileApplication, resolveFunctions } from "./compile.ts";
import { importApplication } from "./loader.ts";

export async function compileApplicationFile(
  path: string,
  args: readonly string[],
  options: CompileOptions,
): Promise<CompiledApplication> {
  const compiled = await compileApplication(await importApplication(path), args, options);
  const functions = await resolveFunctions(await importApplication(path), args, compiled.graph, {
    ...options,
    where: "when run again in a fresh module instance",
  });
  return { graph: compiled.graph, functions };
}
