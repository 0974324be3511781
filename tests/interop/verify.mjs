// Independent verification of credentials with Digital Bazaar's libraries (@digitalbazaar/vc,
// data-integrity, eddsa-rdfc-2022 / eddsa-jcs-2022 cryptosuites) and the Digital Credentials
// Consortium's security document loader (its own copies of the standard contexts).
//
//   node verify.mjs [--context URL=PATH]... [--did-web-http HOST:PORT]... [--did-document PATH]...
//                   [--ignore-status] FILE...        (FILE "-" reads a JSON array from stdin)
//
// did:key resolves by computation; did:web resolves per the did:web method, over plain http only
// for the hosts given with --did-web-http (local tests); --did-document serves a controller
// document (and its verification methods) by id. Every other URL is refused.
// Prints one JSON line per credential; exit 0 when all verify, 1 when any fails, 2 on usage errors.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfc} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite as createJcsVerify} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {securityLoader} from '@digitalcredentials/security-document-loader';

const MULTIKEY_CONTEXT = 'https://w3id.org/security/multikey/v1';

function usage(message) {
  process.stderr.write(`verify.mjs: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const contexts = new Map();
const httpHosts = new Set();
const documents = new Map();
const files = [];
let ignoreStatus = false;
while(args.length) {
  const arg = args.shift();
  if(arg === '--context') {
    const [url, path] = (args.shift() || '').split(/=(.*)/s);
    if(!url || !path) usage('--context needs URL=PATH');
    contexts.set(url, JSON.parse(readFileSync(path, 'utf8')));
  } else if(arg === '--did-web-http') {
    httpHosts.add(args.shift());
  } else if(arg === '--did-document') {
    const doc = JSON.parse(readFileSync(args.shift(), 'utf8'));
    documents.set(doc.id, doc);
  } else if(arg === '--ignore-status') {
    ignoreStatus = true;
  } else if(arg.startsWith('--')) {
    usage(`unknown option ${arg}`);
  } else {
    files.push(arg);
  }
}
if(!files.length) usage('no credentials given');

const base = securityLoader({fetchRemoteContexts: false});
for(const [url, doc] of contexts) base.addStatic(url, doc);
const baseLoader = base.build();

function didWebUrl(did) {
  const [host, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  if(!httpHosts.has(host)) throw new Error(`did:web host ${host} is not allowed (no network)`);
  return `http://${host}/${path.length ? path.join('/') : '.well-known'}/did.json`;
}

function withFragment(controllerDoc, url) {
  if(!url.includes('#')) return controllerDoc;
  const method = (controllerDoc.verificationMethod || []).find(
    m => m.id === url || controllerDoc.id + m.id === url);
  if(!method) throw new Error(`${url} is not in its controller document`);
  return {'@context': MULTIKEY_CONTEXT, ...method};
}

async function documentLoader(url) {
  const [id] = url.split('#');
  if(documents.has(id)) {
    return {contextUrl: null, documentUrl: url, document: withFragment(documents.get(id), url)};
  }
  if(url.startsWith('did:web:')) {
    const response = await fetch(didWebUrl(id));
    if(!response.ok) throw new Error(`${id}: HTTP ${response.status}`);
    const didDocument = await response.json();
    if(didDocument.id !== id) throw new Error(`${id}: the DID document names ${didDocument.id}`);
    return {contextUrl: null, documentUrl: url, document: withFragment(didDocument, url)};
  }
  if(url.startsWith('did:key:') || contexts.has(url) || url.startsWith('http')) {
    return baseLoader(url); // static contexts only: remote fetching is off
  }
  throw new Error(`refusing to load ${url}`);
}

const suite = [
  new DataIntegrityProof({cryptosuite: rdfc}),
  new DataIntegrityProof({cryptosuite: createJcsVerify()})
];

function messages(error) {
  if(!error) return [];
  const list = Array.isArray(error) ? error : [error];
  return list.flatMap(e => [e.message || String(e), ...messages(e.errors || e.cause)]).slice(0, 5);
}

async function main() {
  const credentials = [];
  for(const file of files) {
    if(file === '-') {
      for(const c of JSON.parse(readFileSync(0, 'utf8'))) credentials.push([file, c]);
    } else {
      credentials.push([file, JSON.parse(readFileSync(file, 'utf8'))]);
    }
  }
  let failures = 0;
  for(const [file, credential] of credentials) {
    const options = {credential, suite, documentLoader};
    if(credential.credentialStatus && !ignoreStatus) {
      options.checkStatus = async () => ({verified: false, error: new Error('status not checked')});
    }
    let result;
    try {
      result = await vc.verifyCredential(options);
    } catch(e) {
      result = {verified: false, error: e};
    }
    const errors = result.verified ? [] : [
      ...messages(result.error),
      ...(result.results || []).flatMap(r => messages(r.error))
    ];
    if(!result.verified) failures++;
    process.stdout.write(JSON.stringify({file, verified: result.verified, errors}) + '\n');
  }
  process.exit(failures ? 1 : 0);
}

main().catch(e => usage(e.stack || String(e)));
