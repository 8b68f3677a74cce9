// bench/peers/node/http_server.js: the Node.js peer of `cora serve` in the HTTP
// server benchmark: the http module answering GET /hello with 200 "Hello, World!"
// (text/plain), keep-alive. One event loop, as a cora loop is one thread.
//
// Content-Type and Content-Length are given to writeHead, the fast idiom (no chunked
// coding, no header object built per call). Listens on 127.0.0.1 only (port 0: a
// free port the kernel picks), prints "listening <port>" once it accepts, runs until
// killed.
// Usage: node http_server.js [port]
'use strict';
const http = require('http');

const port = process.argv.length > 2 ? Number(process.argv[2]) : 0;
const body = Buffer.from('Hello, World!');
const head = { 'Content-Type': 'text/plain', 'Content-Length': body.length };

const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, head);
    res.end(body);
  } else {
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  }
});
// The load keeps every connection busy; no limit on requests per connection
// (the default), and idle connections are kept long enough not to matter.
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => {
  process.stderr.write(`Node.js ${process.version} http server\n`);
  process.stdout.write(`listening ${server.address().port}\n`);
});
