// Names the site's bundle files by their content and writes their brotli and gzip siblings.
// Usage: node scripts/seal-site.mjs PKG_DIR VENDOR_DIR dev|release
//   PKG_DIR/taskdeck.js, taskdeck_bg.wasm, taskdeck.css -> taskdeck.<hash>.{js,wasm,css}
//   VENDOR_DIR/echarts.min.js                           -> echarts.<hash>.min.js
//   PKG_DIR/hash.txt lists the hashes (the server and leptos read it).
// A fingerprinted file never changes, so browsers may keep it a year (server/src/http/assets.rs).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, renameSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const [pkg, vendor, profile] = process.argv.slice(2);
// Brotli's best setting takes ~20 s on a debug bundle; the dev site is rebuilt often.
const quality = profile === "release" ? 11 : 5;

const hash = (file) => createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);

function seal(dir, from, stem, ext) {
  const h = hash(join(dir, from));
  const to = `${stem}.${h}.${ext}`;
  for (const old of readdirSync(dir)) {
    if (old !== from && old.startsWith(`${stem}.`) && old.includes(`.${ext}`)) unlinkSync(join(dir, old));
  }
  renameSync(join(dir, from), join(dir, to));
  compress(join(dir, to));
  return h;
}

function compress(file) {
  const data = readFileSync(file);
  writeFileSync(`${file}.br`, brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  }));
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
}

const hashes = {
  js: seal(pkg, "taskdeck.js", "taskdeck", "js"),
  wasm: seal(pkg, "taskdeck_bg.wasm", "taskdeck", "wasm"),
  css: seal(pkg, "taskdeck.css", "taskdeck", "css"),
  echarts: seal(vendor, "echarts.min.js", "echarts", "min.js"),
};
writeFileSync(join(pkg, "hash.txt"), Object.entries(hashes).map(([k, v]) => `${k}: ${v}\n`).join(""));
