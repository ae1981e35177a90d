// Run the published RVM TF.js graph model on a few frames, carrying the
// recurrent state, and save what it outputs: the reference our torch module
// (segmatte.models.person) is tested against.
//
// Pure-JS CPU backend of @tensorflow/tfjs (versions pinned in package.json),
// so no native build is needed. Reads and writes .npy (little-endian).
//
//   node make_reference.mjs MODEL_DIR INPUTS.npy RATIO OUT_PREFIX
//
// INPUTS.npy: uint8 N×H×W×3 RGB frames (consecutive). Writes
// OUT_PREFIX.alpha.npy (float32 N×H×W) and OUT_PREFIX.fgr.npy (float32 N×H×W×3).

import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('fortran order not supported');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const data = buf.subarray(start);
  const copy = new Uint8Array(data).buffer;
  const arrays = { '|u1': Uint8Array, '<f4': Float32Array };
  if (!arrays[descr]) throw new Error(`dtype ${descr} not supported`);
  return { shape, data: new arrays[descr](copy) };
}

function writeNpy(file, shape, float32) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(float32.buffer, float32.byteOffset, float32.byteLength)]));
}

function fileHandler(modelJson) {
  // A minimal tf.io.IOHandler: the pure-JS packages have no file:// loader.
  return {
    load: async () => {
      const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      const dir = path.dirname(modelJson);
      const weightSpecs = [];
      const parts = [];
      for (const group of spec.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(parts);
      return {
        modelTopology: spec.modelTopology,
        format: spec.format,
        generatedBy: spec.generatedBy,
        convertedBy: spec.convertedBy,
        signature: spec.signature,
        userDefinedMetadata: spec.userDefinedMetadata,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

async function main() {
  const [modelDir, inputsFile, ratioArg, outPrefix] = process.argv.slice(2);
  if (!outPrefix) throw new Error('usage: node make_reference.mjs MODEL_DIR INPUTS.npy RATIO OUT_PREFIX');
  await tf.setBackend('cpu');
  const model = await loadGraphModel(fileHandler(path.join(modelDir, 'rvm.json')));
  const { shape, data } = readNpy(inputsFile);
  const [n, h, w] = shape;
  const ratio = tf.scalar(Number(ratioArg), 'float32');
  let rec = [tf.scalar(0), tf.scalar(0), tf.scalar(0), tf.scalar(0)];
  const alphas = new Float32Array(n * h * w);
  const fgrs = new Float32Array(n * h * w * 3);
  for (let i = 0; i < n; i++) {
    const pixels = Float32Array.from(data.subarray(i * h * w * 3, (i + 1) * h * w * 3), v => v / 255);
    const frame = tf.tensor4d(pixels, [1, h, w, 3], 'float32');
    const out = await model.executeAsync(
      { src: frame, r1i: rec[0], r2i: rec[1], r3i: rec[2], r4i: rec[3], downsample_ratio: ratio },
      ['fgr', 'pha', 'r1o', 'r2o', 'r3o', 'r4o']);
    const [fgr, pha, ...next] = out;
    const alpha = await pha.data();
    alphas.set(alpha, i * h * w);
    fgrs.set(await fgr.data(), i * h * w * 3);
    console.log(`frame ${i}: alpha mean ${alpha.reduce((a, b) => a + b, 0) / alpha.length}`);
    tf.dispose([frame, fgr, pha, ...rec]);
    rec = next;
  }
  writeNpy(`${outPrefix}.alpha.npy`, [n, h, w], alphas);
  writeNpy(`${outPrefix}.fgr.npy`, [n, h, w, 3], fgrs);
  console.log(`tfjs ${tf.version_core}, backend ${tf.getBackend()}: wrote ${outPrefix}.{alpha,fgr}.npy`);
}

main().catch(e => { console.error(e); process.exit(1); });
