#!/usr/bin/env node
// Digital Bazaar's eddsa-rdfc-2022 signer, timed: @digitalbazaar/vc `issue` with a
// DataIntegrityProof and @digitalbazaar/eddsa-rdfc-2022-cryptosuite, one credential signed over and
// over on one thread. bench/proofs.py runs it beside credstream's signer on the same credential,
// key and contexts.
//
//   node sign-bench.mjs --credential FILE --seed HEX --created DATETIME --seconds N
//                       [--context URL=PATH]...
//
// --seed       the 32-byte Ed25519 seed (hex); the key is did:key with its Multikey fragment.
// --created    the proof's `created`, so the first proof can be compared with credstream's.
// --context    the JSON-LD contexts, served offline by URL (credstream's pinned copies); every
//              other URL is refused.
// Output: one JSON line {"proofsPerSecond", "wallProofsPerSecond", "count", "seconds", "proof"}
// (the first proof made); seconds are CPU seconds of this process (process.cpuUsage, which also
// counts V8's helper threads such as the garbage collector), as bench/proofs.py measures.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

function parseArgs(argv) {
  const options = {contexts: new Map(), seconds: 5};
  const args = [...argv];
  while(args.length) {
    const arg = args.shift();
    const value = args.shift();
    if(value === undefined) throw new Error(`${arg} needs a value`);
    if(arg === '--credential') {
      options.credential = JSON.parse(readFileSync(value, 'utf8'));
    } else if(arg === '--seed') {
      options.seed = Uint8Array.from(Buffer.from(value, 'hex'));
    } else if(arg === '--created') {
      options.created = value;
    } else if(arg === '--seconds') {
      options.seconds = Number(value);
    } else if(arg === '--context') {
      const at = value.indexOf('=');
      options.contexts.set(value.slice(0, at), JSON.parse(readFileSync(value.slice(at + 1), 'utf8')));
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  if(!options.credential || options.seed?.length !== 32 || !options.created) {
    throw new Error('--credential, a 32-byte --seed and --created are required');
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const documentLoader = async url => {
  const document = options.contexts.get(url);
  if(document === undefined) throw new Error(`${url} is not a pinned context`);
  return {contextUrl: null, documentUrl: url, document};
};
const probe = await Ed25519Multikey.generate({seed: options.seed});
const controller = `did:key:${probe.publicKeyMultibase}`;
const key = await Ed25519Multikey.generate({seed: options.seed, controller});
const suite = new DataIntegrityProof({
  signer: key.signer(), cryptosuite: eddsaRdfc2022, date: options.created
});
const sign = () => vc.issue({credential: structuredClone(options.credential), suite, documentLoader});

const first = await sign();  // also warms the loader and the libraries' caches
let count = 0;
const start = performance.now();
const cpu = process.cpuUsage();
const until = start + options.seconds * 1000;
while(performance.now() < until) {
  await sign();
  count++;
}
const used = process.cpuUsage(cpu);
const seconds = (used.user + used.system) / 1e6;  // CPU seconds, as bench/proofs.py counts
const wall = (performance.now() - start) / 1000;
console.log(JSON.stringify({
  proofsPerSecond: count / seconds, wallProofsPerSecond: count / wall, count, seconds, proof: first.proof
}));
