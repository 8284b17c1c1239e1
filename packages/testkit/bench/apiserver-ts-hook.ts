// Lets `node` run the TypeScript sources directly: relative ".js" imports resolve to ".ts" files.
// Usage: node --import ./bench/apiserver-ts-hook.ts bench/apiserver-leases.ts
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (e) {
      if (specifier.startsWith(".") && specifier.endsWith(".js"))
        return next(`${specifier.slice(0, -3)}.ts`, context);
      throw e;
    }
  },
});
