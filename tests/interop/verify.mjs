#!/usr/bin/env node
// Independent verification of credentials with Digital Bazaar's libraries: @digitalbazaar/vc
// (verifyCredential), @digitalbazaar/data-integrity with the eddsa-rdfc-2022 and eddsa-jcs-2022
// cryptosuites, @digitalbazaar/did-method-key + did-io for did:key, and the standard JSON-LD
// contexts as shipped by @digitalcredentials/security-document-loader (+ the Multikey context from
// @digitalbazaar/multikey-context). None of credstream's own code or context copies are used,
// except the extension contexts explicitly given with --context.
//
//   node verify.mjs [--context URL=PATH]... [--did-web-http HOST:PORT]... [--did-document PATH]...
//                   [--ignore-status | --check-status] [--no-issuer-binding] FILE...
//   node verify.mjs --decode-list URL|FILE
//
// FILE is a JSON credential, or "-" for a JSON array of credentials on stdin.
//   --context URL=PATH     serve the JSON-LD context at PATH for URL. Contexts that the libraries
//                          ship cannot be replaced (so a wrong copy of ours cannot mask a bug).
//   --did-web-http H:P     resolve did:web DIDs on host H:P over plain http (local tests). did:web
//                          on any other host is refused: this verifier never uses the network.
//   --did-document PATH    serve this DID / controller document by its `id`, and each of its
//                          verification methods by their `id` (so a key URL dereferences to the key).
//   --ignore-status        accept credentials with `credentialStatus` without checking it. Without
//                          it (or --check-status) such credentials FAIL with "status not checked"
//                          (never silently pass).
//   --check-status         check `credentialStatus` (W3C Bitstring Status List v1.0) with
//                          `checkStatus` from @digitalbazaar/vc-bitstring-status-list: each entry's
//                          statusListCredential is fetched over http(s) (only those exact URLs of
//                          the credential being verified, no redirects), its proof is verified with
//                          the same suites and documentLoader (so its did:web issuer resolves as
//                          above), and its issuer must be the credential's. A set "revocation" bit
//                          FAILS the credential with "revoked", a set "suspension" bit with
//                          "suspended"; bits of other purposes are only reported.
//   --decode-list SOURCE   decode the `encodedList` of the BitstringStatusListCredential at SOURCE
//                          (an http(s) URL, fetched, or a JSON file; not verified) with the
//                          package's `decodeList` and print {"length": N, "set": [index, ...]}.
//   --no-issuer-binding    use AssertionProofPurpose instead of vc's CredentialIssuancePurpose, i.e.
//                          do not require issuer == verification method controller. Only for
//                          specification test vectors whose issuer is not the key's controller.
//
// did:web follows the did:web method: did:web:example.com%3A8443:issuers:acme ->
// https://example.com:8443/issuers/acme/did.json, did:web:example.com -> .../.well-known/did.json.
// Every URL that is not a served context, a given document, did:key or an allowed did:web is refused.
//
// Output: one JSON line per credential {"file", "verified", "errors"} on stdout (stdin credentials
// are named "-[0]", "-[1]", ...); with --check-status, lines of credentials whose status was checked
// also have "status": {purpose: bit set?, ...}, e.g. {"revocation": false, "suspension": true}.
// Exit status 0 when all verify, 1 when any fails, 2 on usage error (--decode-list: 0, or 2 when the
// list cannot be read or decoded).
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import jsigs from 'jsonld-signatures';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite as createEddsaJcs2022} from
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {CachedResolver, findVerificationMethod} from '@digitalbazaar/did-io';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import {securityLoader} from '@digitalcredentials/security-document-loader';
import {checkStatus, decodeList} from '@digitalbazaar/vc-bitstring-status-list';

const USAGE = 'usage: verify.mjs [--context URL=PATH]... [--did-web-http HOST:PORT]... ' +
  '[--did-document PATH]... [--ignore-status | --check-status] [--no-issuer-binding] FILE...\n' +
  '       verify.mjs --decode-list URL|FILE';
// A status list credential larger than this is refused (the spec's lists are ~16 KiB of bits).
const MAX_LIST_BYTES = 32 * 1024 * 1024;
// Status purposes whose set bit makes a credential fail, with the message given.
const FAILING_PURPOSES = new Map([['revocation', 'revoked'], ['suspension', 'suspended']]);

class UsageError extends Error {}
// A SOURCE for --decode-list that cannot be read or decoded (reported without the usage text).
class InputError extends Error {}

function readJson(path, what) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch(e) {
    throw new UsageError(`cannot read ${what} ${path}: ${e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch(e) {
    throw new UsageError(`${what} ${path} is not JSON: ${e.message}`);
  }
}

function parseArgs(argv) {
  const options = {
    contexts: new Map(), httpHosts: new Set(), documents: [], files: [],
    ignoreStatus: false, checkStatus: false, issuerBinding: true, decodeList: null
  };
  const args = [...argv];
  const value = name => {
    if(!args.length) throw new UsageError(`${name} needs a value`);
    return args.shift();
  };
  let onlyFiles = false;
  while(args.length) {
    const arg = args.shift();
    if(onlyFiles || arg === '-' || !arg.startsWith('-')) {
      options.files.push(arg);
    } else if(arg === '--') {
      onlyFiles = true;
    } else if(arg === '--context') {
      const spec = value(arg);
      const at = spec.indexOf('=');
      if(at <= 0 || at === spec.length - 1) throw new UsageError('--context needs URL=PATH');
      const path = spec.slice(at + 1);
      options.contexts.set(spec.slice(0, at), readJson(path, 'context'));
    } else if(arg === '--did-web-http') {
      const host = value(arg);
      if(!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) throw new UsageError(`bad HOST:PORT ${host}`);
      options.httpHosts.add(host.toLowerCase());
    } else if(arg === '--did-document') {
      const path = value(arg);
      const doc = readJson(path, 'DID document');
      if(typeof doc?.id !== 'string') throw new UsageError(`DID document ${path} has no id`);
      options.documents.push(doc);
    } else if(arg === '--ignore-status') {
      options.ignoreStatus = true;
    } else if(arg === '--check-status') {
      options.checkStatus = true;
    } else if(arg === '--decode-list') {
      options.decodeList = value(arg);
    } else if(arg === '--no-issuer-binding') {
      options.issuerBinding = false;
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  if(options.ignoreStatus && options.checkStatus) {
    throw new UsageError('--ignore-status and --check-status exclude each other');
  }
  if(options.decodeList !== null) {
    if(argv.length !== 2) throw new UsageError('--decode-list takes one URL or FILE, nothing else');
    return options;
  }
  if(!options.files.length) throw new UsageError('no credentials given');
  if(options.files.filter(f => f === '-').length > 1) {
    throw new UsageError('"-" (stdin) can be given once');
  }
  return options;
}

// did:web (https://w3c-ccg.github.io/did-method-web/): method-specific id = host[%3Aport](:path)*.
function didWebUrl(did, httpHosts) {
  const segments = did.slice('did:web:'.length).split(':');
  if(segments.some(s => !s)) throw new Error(`invalid did:web DID ${did}`);
  const [host, ...path] = segments.map(decodeURIComponent);
  const file = path.length ? `${path.join('/')}/did.json` : '.well-known/did.json';
  const https = `https://${host}/${file}`;
  if(!httpHosts.has(host.toLowerCase())) {
    throw new Error(`refusing to fetch ${https} for ${did} (no network; did:web over http is ` +
      'only allowed for hosts given with --did-web-http)');
  }
  return `http://${host}/${file}`;
}

// A DID URL with a fragment dereferences to that verification method of its DID document, in the
// document's own @context (as did-method-key does); only absolute method ids are matched (did-io).
function dereference(document, url) {
  if(!url.includes('#')) return document;
  const method = findVerificationMethod({doc: document, methodId: url});
  if(!method) throw new Error(`${url} is not a verification method of ${document.id}`);
  return {'@context': document['@context'], ...method};
}

function didWebDriver(httpHosts) {
  return {
    method: 'web',
    async get({did, url}) {
      const didUrl = did || url;
      const [bare] = didUrl.split(/[?#]/);
      const response = await fetch(didWebUrl(bare, httpHosts), {
        redirect: 'error', signal: AbortSignal.timeout(10000),
        headers: {accept: 'application/did+json, application/json'}
      });
      if(!response.ok) throw new Error(`${bare}: HTTP ${response.status}`);
      const document = await response.json();
      if(document?.id !== bare) {
        throw new Error(`the DID document for ${bare} has id ${document?.id}`);
      }
      return dereference(document, didUrl);
    }
  };
}

async function buildDocumentLoader({contexts, httpHosts, documents}) {
  // Static contexts only: with fetchRemoteContexts=false the DCC loader has no http(s) handler.
  // Its did: handler (DCC's did:key and did:web drivers, which would use the network) is never
  // reached: only non-did URLs are passed to it below.
  const shipped = securityLoader({fetchRemoteContexts: false});
  shipped.addStatic(multikeyContext.CONTEXT_URL, multikeyContext.CONTEXT);
  const shippedLoader = shipped.build();
  const given = new Map();
  for(const [url, context] of contexts) {
    const isShipped = await shippedLoader(url).then(() => true, () => false);
    if(isShipped) {
      throw new UsageError(`--context ${url}: the libraries ship this context; it is not replaced`);
    }
    given.set(url, context);
  }

  const byId = new Map();
  for(const document of documents) {
    byId.set(document.id, document);
    for(const method of document.verificationMethod || []) {
      if(typeof method.id === 'string') {
        byId.set(method.id, {'@context': document['@context'], ...method});
      }
    }
  }

  const keyDriver = didKey.driver();
  keyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const resolver = new CachedResolver();
  resolver.use(keyDriver);
  resolver.use(didWebDriver(httpHosts));

  const loaded = (url, document) => ({contextUrl: null, documentUrl: url, document});
  return async function documentLoader(url) {
    if(given.has(url)) return loaded(url, given.get(url));
    if(byId.has(url)) return loaded(url, byId.get(url));
    const [base] = url.split('#');
    if(base !== url && byId.has(base)) return loaded(url, dereference(byId.get(base), url));
    if(url.startsWith('did:key:') || url.startsWith('did:web:')) {
      return loaded(url, await resolver.get({url}));
    }
    if(url.startsWith('did:')) throw new Error(`refusing to resolve ${url} (unsupported DID method)`);
    try {
      return await shippedLoader(url);
    } catch {
      throw new Error(`refusing to load ${url} (not a served context or document; no network)`);
    }
  };
}

function messages(error, depth = 0) {
  if(!error || depth > 4) return [];
  if(Array.isArray(error)) return error.flatMap(e => messages(e, depth + 1));
  const nested = [...messages(error.errors, depth + 1), ...messages(error.cause, depth + 1)];
  // jsonld-signatures wraps the real errors in "Verification error(s)."; report those instead.
  if(error.name === 'VerificationError' && nested.length) return nested;
  return [error.message || String(error), ...nested];
}

function errorsOf(result) {
  const all = [
    ...messages(result.error),
    ...(result.results || []).flatMap(r => messages(r.error)),
    ...messages(result.statusResult?.error)
  ];
  return [...new Set(all)].slice(0, 8);
}

// Belt and braces: whatever a library might try, the only network access is http to the hosts
// given with --did-web-http, and the exact URLs in `allowedUrls` (with --check-status: the status
// list credentials of the credential being verified, while its status is checked; with
// --decode-list: the given URL).
const allowedUrls = new Set();

function guardFetch(httpHosts) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (resource, init) => {
    const url = new URL(resource instanceof Request ? resource.url : String(resource));
    const allowed = allowedUrls.has(url.href) ||
      (url.protocol === 'http:' && httpHosts.has(url.host.toLowerCase()));
    if(!allowed) {
      return Promise.reject(new Error(`refusing to fetch ${url.href} (no network)`));
    }
    return realFetch(resource, init);
  };
}

// GET a status list credential (media type application/vc, W3C Bitstring Status List v1.0 and
// VC Data Model 2.0); no redirects, bounded size.
async function fetchListCredential(url) {
  let response;
  try {
    response = await fetch(url, {
      redirect: 'error', signal: AbortSignal.timeout(10000),
      headers: {
        accept: 'application/vc, application/vc+ld+json;q=0.9, application/ld+json;q=0.8, ' +
          'application/json;q=0.7'
      }
    });
  } catch(e) {
    // undici reports "fetch failed" with the reason (refused, redirect, ...) as its cause.
    throw new Error(`${url}: ${e.cause?.message || e.message}`);
  }
  if(!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  if(Number(response.headers.get('content-length')) > MAX_LIST_BYTES) {
    throw new Error(`${url}: larger than ${MAX_LIST_BYTES} bytes`);
  }
  const text = await response.text();
  if(text.length > MAX_LIST_BYTES) throw new Error(`${url}: larger than ${MAX_LIST_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch(e) {
    throw new Error(`${url}: not JSON: ${e.message}`);
  }
}

function statusEntries(credential) {
  const status = credential.credentialStatus;
  return Array.isArray(status) ? status : [status];
}

// The documentLoader for checking one credential's status: its statusListCredential URLs (and only
// those) are fetched over http(s); everything else goes to the verifier's documentLoader.
function statusDocumentLoader(credential, documentLoader) {
  const urls = new Set();
  for(const entry of statusEntries(credential)) {
    const url = entry?.statusListCredential;
    if(typeof url === 'string' && /^https?:\/\//i.test(url)) urls.add(url);
  }
  const loader = async url => {
    if(!urls.has(url)) return documentLoader(url);
    const document = await fetchListCredential(url);
    if(document?.id !== undefined && document.id !== url) {
      throw new Error(`the status list credential at ${url} has id ${document.id}`);
    }
    return {contextUrl: null, documentUrl: url, document};
  };
  return {urls: [...urls].map(url => new URL(url).href), loader};
}

// vc.verifyCredential's `checkStatus` for --check-status: Digital Bazaar's `checkStatus` (which
// loads each entry's list credential, verifies its proof with the same suites, requires the same
// issuer, and returns {verified: true, results: [{verified, credentialStatus, status}]} where
// `status` is the bit: it is `verified` even when the bit is set), then a set revocation /
// suspension bit made a failure, and the bits reported by purpose as `status`.
async function checkBitstringStatus({credential, suite, documentLoader}) {
  const entries = statusEntries(credential);
  const others = entries.filter(entry => entry?.type !== 'BitstringStatusListEntry');
  if(others.length) {
    const types = [...new Set(others.map(entry => JSON.stringify(entry?.type)))].join(', ');
    return {
      verified: false,
      error: new Error(`status not checked: credentialStatus type ${types} is not supported ` +
        '(only BitstringStatusListEntry)')
    };
  }
  const sized = entries.filter(entry => entry.statusSize !== undefined && entry.statusSize !== 1);
  if(sized.length) {
    return {
      verified: false,
      error: new Error(`status not checked: statusSize ${sized[0].statusSize} is not supported`)
    };
  }
  const {urls, loader} = statusDocumentLoader(credential, documentLoader);
  urls.forEach(url => allowedUrls.add(url));
  let result;
  try {
    result = await checkStatus({
      credential, suite, documentLoader: loader,
      verifyBitstringStatusListCredential: true, verifyMatchingIssuers: true
    });
  } finally {
    urls.forEach(url => allowedUrls.delete(url));
  }
  if(!result.verified) return result;
  const status = {};
  const failures = [];
  for(const {credentialStatus: entry, status: bit} of result.results) {
    if(typeof bit !== 'boolean') {
      return {...result, verified: false, error: new Error(`no status bit for ${entry.id}`)};
    }
    status[entry.statusPurpose] = status[entry.statusPurpose] === true || bit;
    if(bit && FAILING_PURPOSES.has(entry.statusPurpose)) {
      failures.push(new Error(`${FAILING_PURPOSES.get(entry.statusPurpose)} (${entry.statusPurpose} ` +
        `bit ${entry.statusListIndex} of ${entry.statusListCredential} is set)`));
    }
  }
  return {...result, status, ...(failures.length ? {verified: false, error: failures} : {})};
}

// --decode-list: the indexes of the set bits, by the package's own decodeList / getStatus.
async function decodeListMain(source) {
  let credential;
  if(/^https?:\/\//i.test(source)) {
    allowedUrls.add(new URL(source).href);
    try {
      credential = await fetchListCredential(source);
    } catch(e) {
      throw new InputError(`cannot fetch ${e.message}`);
    }
  } else {
    try {
      credential = JSON.parse(readFileSync(source === '-' ? 0 : source, 'utf8'));
    } catch(e) {
      throw new InputError(`cannot read ${source} as JSON: ${e.message}`);
    }
  }
  const encodedList = credential?.credentialSubject?.encodedList;
  if(typeof encodedList !== 'string') {
    throw new InputError(`${source} has no credentialSubject.encodedList string`);
  }
  let list;
  try {
    list = await decodeList({encodedList});
  } catch(e) {
    throw new InputError(`cannot decode the encodedList of ${source}: ${e.message || e}`);
  }
  const set = [];
  const {bits} = list.bitstring;
  for(let byte = 0; byte * 8 < list.length; byte++) {
    if(!bits[byte]) continue;
    for(let index = byte * 8; index < Math.min(byte * 8 + 8, list.length); index++) {
      if(list.getStatus(index)) set.push(index);
    }
  }
  process.stdout.write(JSON.stringify({length: list.length, set}) + '\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  guardFetch(options.httpHosts);
  if(options.decodeList !== null) {
    await decodeListMain(options.decodeList);
    return;
  }
  const documentLoader = await buildDocumentLoader(options);
  const credentials = [];
  for(const file of options.files) {
    if(file === '-') {
      const list = readJson(0, 'stdin');
      if(!Array.isArray(list)) throw new UsageError('stdin must be a JSON array of credentials');
      list.forEach((credential, n) => credentials.push([`-[${n}]`, credential]));
    } else {
      credentials.push([file, readJson(file, 'credential')]);
    }
  }
  const suite = [
    new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
    new DataIntegrityProof({cryptosuite: createEddsaJcs2022()})
  ];
  let failures = 0;
  for(const [file, credential] of credentials) {
    const verifyOptions = {credential, suite, documentLoader};
    if(!options.issuerBinding) {
      verifyOptions.purpose = new jsigs.purposes.AssertionProofPurpose();
    }
    if(credential?.credentialStatus !== undefined) {
      if(options.checkStatus) {
        verifyOptions.checkStatus = checkBitstringStatus;
      } else if(options.ignoreStatus) {
        verifyOptions.checkStatus = async () => ({verified: true});
      } else {
        verifyOptions.checkStatus = async () => ({
          verified: false,
          error: new Error('status not checked (pass --check-status to check it, or ' +
            '--ignore-status to accept it unchecked)')
        });
      }
    }
    let result;
    try {
      result = await vc.verifyCredential(verifyOptions);
    } catch(error) {
      result = {verified: false, error};
    }
    const verified = result.verified === true;
    const errors = verified ? [] : errorsOf(result);
    if(!verified && !errors.length) errors.push('not verified (no error given)');
    if(!verified) failures++;
    const line = {file, verified, errors};
    if(result.statusResult?.status) line.status = result.statusResult.status;
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch(error => {
  if(error instanceof UsageError) {
    process.stderr.write(`verify.mjs: ${error.message}\n${USAGE}\n`);
  } else if(error instanceof InputError) {
    process.stderr.write(`verify.mjs: ${error.message}\n`);
  } else {
    process.stderr.write(`verify.mjs: ${error.stack || error}\n`);
  }
  process.exitCode = 2;
});
