// Bundles the extension (dist/extension.js, what the .vsix ships) or, with --tests, each test
// file to out/ so node's test runner can run them without a TypeScript loader.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const tests = process.argv.includes('--tests');

function testEntries(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testEntries(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };

if (tests) {
  await build({
    ...common,
    entryPoints: testEntries('test'),
    outdir: 'out/test',
    outbase: 'test',
    // Tests run under plain Node: the VS Code API must never be pulled in, and packages stay in node_modules.
    packages: 'external',
  });
} else {
  await build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: true,
  });
}
