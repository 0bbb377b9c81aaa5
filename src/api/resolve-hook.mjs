// Module resolution hook (node:module register, runs on the loader thread): the bare specifier "vigil" is
// the DataStream API. Plain JavaScript, because it loads before any TypeScript loader may apply to it.
// The rewritten specifier goes on down the chain, so tsx still resolves (and namespaces) the .ts file.
let target;

export function initialize(data) {
  target = data.target;
}

export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === "vigil" ? target : specifier, context);
}
