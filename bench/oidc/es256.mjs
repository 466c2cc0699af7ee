// The bare ES256 signature rate of Node's crypto (OpenSSL), which oidc-provider signs with
// (through jose), on the same token-sized signing input as `oidc-tools es256`.
//   node es256.mjs [SECONDS]   prints RESULT signs_per_s=… us_each=…
import { generateKeyPairSync, sign } from 'node:crypto';

const seconds = Number(process.argv[2] ?? 3);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const input = Buffer.from('e'.repeat(330));
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
let n = 0;
while (process.hrtime.bigint() < end) {
  sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  n += 1;
}
const took = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`RESULT signs_per_s=${Math.round(n / took)} us_each=${((took * 1e6) / n).toFixed(1)} signs=${n}`);
