// ort_peer.js — the ONNX Runtime peer of `segcam bench`'s forward:
//
//   NODE_PATH=MODULES node ort_peer.js MODEL.onnx --size WxH --runs N --threads T [--channels C]
//
// Times InferenceSession.run on uniform random input (what `segcam bench` feeds, normalised
// already: the exported graph has no normalisation) with T intra-op threads and every graph
// optimisation ONNX Runtime has, as a user of it would run it: the median of N runs after one
// warm-up. Prints a report and `RESULT fwd_ms=.. peak_mib=.. load_ms=..`; peak_mib is the process's
// ru_maxrss, which includes node and the runtime. MODULES is the folder tools/fetch-onnxruntime.sh
// prints; bench/torch_peer.py --export-onnx writes the model.
"use strict";

const ort = require("onnxruntime-node");

function option(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

async function main(argv) {
  if (argv.length < 1) {
    console.error("usage: ort_peer.js MODEL.onnx --size WxH --runs N --threads T [--channels C]");
    return 1;
  }
  const [width, height] = option(argv, "--size", "512x512").split("x").map(Number);
  const runs = Number(option(argv, "--runs", "5")), threads = Number(option(argv, "--threads", "2"));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(argv[0], {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // A fixed seed, so every run sees the same pixels.
  const channels = Number(option(argv, "--channels", "3"));
  let seed = 1;
  const data = new Float32Array(channels * width * height);
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = seed / 2147483648;
  }
  const input = new ort.Tensor("float32", data, [1, channels, height, width]);
  const times = [];
  for (let i = -1; i < runs; i++) {
    const a = process.hrtime.bigint();
    await session.run({ [session.inputNames[0]]: input });
    const ms = Number(process.hrtime.bigint() - a) / 1e6;
    if (i >= 0) times.push(ms);
    console.log(`  run ${i}: forward ${ms.toFixed(1)} ms`);
  }
  times.sort((x, y) => x - y);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  const peak = process.resourceUsage().maxRSS / 1024;
  console.log(`onnxruntime-node, ${width}x${height}, ${threads} thread(s): forward ${median.toFixed(2)} ms ` +
              `(median of ${runs}), session created in ${loadMs.toFixed(0)} ms, peak RSS ${peak.toFixed(1)} MiB`);
  console.log(`RESULT fwd_ms=${median.toFixed(3)} peak_mib=${peak.toFixed(1)} load_ms=${loadMs.toFixed(1)}`);
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error(`ort_peer: ${e.message.split("\n")[0]}`);
  process.exit(2);
});
