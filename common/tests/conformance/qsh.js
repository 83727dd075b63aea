#!/usr/bin/env node
// Computes the canonical request and qsh of each case with Atlassian's own
// `atlassian-jwt` (npm, pinned to 2.0.3 in package.json / package-lock.json), so that
// common/tests/npm_conformance.rs can compare them with hookline's
// `common::connect::CanonicalRequest`.
//
// Usage: node qsh.js cases.json
//   input  (argv[2]): JSON array of { "name", "method", "target", "basePath" }
//   output (stdout) : JSON array of { "name", "canonical", "qsh" } in the same order; a case
//                     on which the library throws yields { "name", "error" } instead.
//
// How the inputs map onto the library (read from node_modules/atlassian-jwt/dist/lib/jwt.js):
//   - `target` is the raw request target as sent on the wire (path + optional "?query").
//     It is appended verbatim to the origin: url = "https://example.atlassian.net" + target,
//     and given to `jwt.fromMethodAndUrl(method, url)`. That calls Node's legacy
//     `url.parse(url, true)`, keeping `pathname` (NOT percent-decoded) and `query` (parsed by
//     `querystring.parse`: split on '&' then on the first '=', '+' is a space, %XX decoded as
//     UTF-8, an invalid UTF-8 sequence becomes U+FFFD, a stray '%' stays literal, repeated keys
//     become arrays, a key without '=' gets the value "").
//     What url.parse does to the raw target beyond that, and hence what the cases avoid:
//       * it drops a "#fragment" (never sent on the wire anyway);
//       * it percent-escapes space, tab, CR, LF, " ' < > \ ^ ` { | } (and turns '\' into '/'
//         in the path). Inside the query this is harmless (it is decoded again), but in the
//         PATH it changes the canonical path (e.g. a raw "'" becomes "%27"), so the path of a
//         case never holds those characters raw;
//       * it leaves non-ASCII characters and existing %XX escapes (any case) untouched.
//   - `method` is passed as is; the library upper-cases it.
//   - `basePath` ("" or e.g. "/wiki") gives baseUrl = "https://example.atlassian.net" + basePath,
//     passed as the third argument of createCanonicalRequest / createQueryStringHash. The
//     library strips baseUrl's path from the start of the pathname by a plain string-prefix test
//     (so "/wikipedia" would lose "/wiki" too: the cases keep to paths under the base path on a
//     segment boundary, or outside it entirely).
//   - checkBodyForParams is false: the body never takes part in the qsh.
'use strict';

const fs = require('fs');
const path = require('path');
const jwt = require(path.join(__dirname, 'node_modules', 'atlassian-jwt'));

const ORIGIN = 'https://example.atlassian.net';

function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node qsh.js <cases.json>\n');
    process.exit(2);
  }
  const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(cases)) {
    throw new Error(file + ': expected a JSON array of cases');
  }
  const out = cases.map((c) => {
    for (const field of ['name', 'method', 'target', 'basePath']) {
      if (typeof c[field] !== 'string') {
        throw new Error('case ' + JSON.stringify(c) + ': field "' + field + '" must be a string');
      }
    }
    const baseUrl = ORIGIN + c.basePath;
    try {
      const req = jwt.fromMethodAndUrl(c.method, ORIGIN + c.target);
      return {
        name: c.name,
        canonical: jwt.createCanonicalRequest(req, false, baseUrl),
        qsh: jwt.createQueryStringHash(req, false, baseUrl),
      };
    } catch (e) {
      return { name: c.name, error: String((e && e.stack) || e) };
    }
  });
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main();
