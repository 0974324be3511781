#!/usr/bin/env node
// Independent verification of credentials with Digital Bazaar's libraries: @digitalbazaar/vc
// (verifyCredential), @digitalbazaar/data-integrity with the eddsa-rdfc-2022 and eddsa-jcs-2022
// cryptosuites, @digitalbazaar/did-method-key + did-io for did:key, and the standard JSON-LD
// contexts as shipped by @digitalcredentials/security-document-loader (+ the Multikey context from
// @digitalbazaar/multikey-context). None of credstream's own code or context copies are used,
// except the extension contexts explicitly given with --context.
//
//   node verify.mjs [--context URL=PATH]... [--did-web-http HOST:PORT]... [--did-document PATH]...
//                   [--ignore-status] [--no-issuer-binding] FILE...
//
// FILE is a JSON credential, or "-" for a JSON array of credentials on stdin.
//   --context URL=PATH     serve the JSON-LD context at PATH for URL. Contexts that the libraries
//                          ship cannot be replaced (so a wrong copy of ours cannot mask a bug).
//   --did-web-http H:P     resolve did:web DIDs on host H:P over plain http (local tests). did:web
//                          on any other host is refused: this verifier never uses the network.
//   --did-document PATH    serve this DID / controller document by its `id`, and each of its
//                          verification methods by their `id` (so a key URL dereferences to the key).
//   --ignore-status        accept credentials with `credentialStatus` without checking it. Without
//                          it such credentials FAIL with "status not checked" (never silently pass).
//   --no-issuer-binding    use AssertionProofPurpose instead of vc's CredentialIssuancePurpose, i.e.
//                          do not require issuer == verification method controller. Only for
//                          specification test vectors whose issuer is not the key's controller.
//
// did:web follows the did:web method: did:web:example.com%3A8443:issuers:acme ->
// https://example.com:8443/issuers/acme/did.json, did:web:example.com -> .../.well-known/did.json.
// Every URL that is not a served context, a given document, did:key or an allowed did:web is refused.
//
// Output: one JSON line per credential {"file", "verified", "errors"} on stdout (stdin credentials
// are named "-[0]", "-[1]", ...). Exit status 0 when all verify, 1 when any fails, 2 on usage error.
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

const USAGE = 'usage: verify.mjs [--context URL=PATH]... [--did-web-http HOST:PORT]... ' +
  '[--did-document PATH]... [--ignore-status] [--no-issuer-binding] FILE...';

class UsageError extends Error {}

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
    ignoreStatus: false, issuerBinding: true
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
    } else if(arg === '--no-issuer-binding') {
      options.issuerBinding = false;
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
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
// given with --did-web-http.
function guardFetch(httpHosts) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (resource, init) => {
    const url = new URL(resource instanceof Request ? resource.url : String(resource));
    if(url.protocol !== 'http:' || !httpHosts.has(url.host.toLowerCase())) {
      return Promise.reject(new Error(`refusing to fetch ${url.href} (no network)`));
    }
    return realFetch(resource, init);
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  guardFetch(options.httpHosts);
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
      verifyOptions.checkStatus = options.ignoreStatus ?
        async () => ({verified: true}) :
        async () => ({
          verified: false,
          error: new Error('status not checked (this verifier has no status list support; ' +
            'pass --ignore-status to accept)')
        });
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
    process.stdout.write(JSON.stringify({file, verified, errors}) + '\n');
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch(error => {
  if(error instanceof UsageError) {
    process.stderr.write(`verify.mjs: ${error.message}\n${USAGE}\n`);
  } else {
    process.stderr.write(`verify.mjs: ${error.stack || error}\n`);
  }
  process.exitCode = 2;
});
