'use strict';

/**
 * A web server on 127.0.0.1 that is not the connector: a reverse proxy's error page, a web
 * site or login page answering 200 on every path, a JSON API of something else. It keeps
 * the requests it got (`requests`, `bodies`), so a test can say what a step sent, or that
 * it refused before sending anything.
 */

const http = require('node:http');

/** `fn(url, server)` with a server answering every request `status`, `headers`, `body`. */
const withServerAnswering = async (status, headers, body, fn) => {
  const server = http.createServer((req, res) => {
    server.requests.push(`${req.method} ${req.url}`);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      server.bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(status, headers);
      res.end(body);
    });
  });
  server.requests = [];
  server.bodies = [];
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`, server);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
};

// The connector's RFC 9457 body for a slug (connector/errors.py builds `type` this way).
const problem = (status, slug, title, detail) => JSON.stringify({
  type: `https://github.com/koji-connector/connector/blob/main/docs/problems.md#${slug}`,
  title, status, detail,
});

module.exports = { withServerAnswering, problem };
