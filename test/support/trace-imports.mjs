// Preloaded with `node --import` by tests: records every module the process resolves into the
// file named by ZHEDEL_TRACE_IMPORTS, one URL a line, so a test can say what a command loaded.
import { register } from 'node:module';

register(new URL('./trace-imports-hooks.mjs', import.meta.url), { data: { file: process.env.ZHEDEL_TRACE_IMPORTS } });
