// Convert between .ply and .spz with spz-js (the npm port of Niantic's SPZ library).
// usage: node spz_convert.mjs IN OUT      (IN/OUT extensions: .ply or .spz)
// Prints one JSON line with timings in seconds (file I/O excluded where possible).
import { createReadStream, readFileSync, writeFileSync } from 'fs';
import { Readable } from 'stream';
import path from 'path';
import { loadPly, loadSpz, serializePly, serializeSpz } from 'spz-js';

const [, , input, output] = process.argv;
if (!input || !output) {
    console.error('usage: node spz_convert.mjs IN.(ply|spz) OUT.(ply|spz)');
    process.exit(2);
}
const t0 = performance.now();
let gs;
if (path.extname(input) === '.spz') {
    gs = await loadSpz(readFileSync(input));
} else {
    gs = await loadPly(Readable.toWeb(createReadStream(input)));
}
const t1 = performance.now();
let data;
if (path.extname(output) === '.spz') {
    data = await serializeSpz(gs);
} else {
    data = serializePly(gs);
}
const t2 = performance.now();
writeFileSync(output, Buffer.from(data));
console.log(JSON.stringify({ tool: 'spz-js', load_s: (t1 - t0) / 1000, serialize_s: (t2 - t1) / 1000,
    num_points: gs.numPoints, sh_degree: gs.shDegree, bytes: data.length }));
