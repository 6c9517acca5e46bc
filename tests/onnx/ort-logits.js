// ort-logits.js — an .onnx model's output computed by ONNX Runtime, the independent oracle for the
// logits segcam computes from the same file (crosscheck.py compares the two):
//
//   NODE_PATH=MODULES node ort-logits.js MODEL.onnx PIXELS.f32 WIDTH HEIGHT MEAN STD LOGITS.f32 [OUTPUT]
//
// PIXELS holds HEIGHT x WIDTH x C float32 values in [0, 1], channels last (what segcam's image
// loader makes of a PNG; C comes from the model's input); MEAN and STD are comma-separated, one
// value per channel, and the network sees (x - mean) / std, channels first, as segcam feeds it.
// LOGITS receives the OUTPUT tensor (default: the graph's first output) as float32, NCHW order.
// MODULES is the folder tools/fetch-onnxruntime.sh prints.
"use strict";

const fs = require("fs");
const ort = require("onnxruntime-node");

async function main(argv) {
  if (argv.length < 7 || argv.length > 8) {
    console.error("usage: ort-logits.js MODEL PIXELS.f32 WIDTH HEIGHT MEAN STD LOGITS.f32 [OUTPUT]");
    return 1;
  }
  const [modelPath, pixelPath, w, h, meanText, stdText, outPath, outputName] = argv;
  const width = Number(w), height = Number(h);
  const mean = meanText.split(",").map(Number), std = stdText.split(",").map(Number);
  const bytes = fs.readFileSync(pixelPath);
  const hwc = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const channels = hwc.length / (width * height);
  if (!Number.isInteger(channels) || mean.length !== channels || std.length !== channels) {
    console.error(`ort-logits: ${pixelPath} does not hold ${width}x${height} pixels of ` +
                  `${mean.length} channels`);
    return 2;
  }
  const chw = new Float32Array(hwc.length);
  for (let c = 0; c < channels; c++)
    for (let i = 0; i < width * height; i++)
      chw[c * width * height + i] = (hwc[i * channels + c] - mean[c]) / std[c];

  // One thread and no graph rewrites beyond the basic ones: the oracle should compute the
  // graph as written, not a fused approximation of it.
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "basic",
  });
  const input = new ort.Tensor("float32", chw, [1, channels, height, width]);
  const result = await session.run({ [session.inputNames[0]]: input });
  const name = outputName || session.outputNames[0];
  if (!(name in result)) {
    console.error(`ort-logits: the model has no output '${name}' (${session.outputNames.join(", ")})`);
    return 2;
  }
  const out = result[name];
  fs.writeFileSync(outPath, Buffer.from(Float32Array.from(out.data).buffer));
  console.log(out.dims.join("x"));
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error(`ort-logits: ${e.message.split("\n")[0]}`);
  process.exit(2);
});
