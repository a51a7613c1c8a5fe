// Package fastcgi is fluxheim's FastCGI client for php-fpm: one
// FCGI_RESPONDER request per connection (request id 1, no multiplexing),
// on unix sockets or TCP, optionally over a bounded keep-alive pool, with
// round-robin addresses, safe-method failover and retries.
//
// Contract:
//
//   - Client.Do returns a complete response: stdout was read to
//     FCGI_END_REQUEST and the CGI header section parsed strictly (see
//     parseHeader); nothing is streamed. A response that ends early, breaks
//     the record layer, or exceeds MaxHeaderBytes, MaxBodyBytes or
//     MaxStderrBytes is an *Error, as is one whose stderr matches a
//     failure pattern.
//   - Every exchange runs under the request's absolute deadline (and the
//     connect timeout for the dial); cancelling Request.Ctx aborts it.
//   - Error.Kind says what failed, so the caller can answer 502, 503, 504
//     or 499, and Do retries only where the policy allows (see Do).
//
// The record layer is our own rather than github.com/yookoala/gofast's:
// gofast exports only its whole client, whose response handling writes
// straight to an http.ResponseWriter with lax header parsing (1 KiB line
// limit, no control-byte checks), treats a connection closed before
// FCGI_END_REQUEST as a complete response, mixes transport errors into the
// stderr stream and cannot bound stdout or stderr; and gofast v0.8.0 no
// longer compiles in this module (it imports golang.org/x/tools/godoc/vfs,
// which x/tools removed long before the v0.48.0 this module needs).
// docs/design.md ("PHP") has the full comparison. The fake application in
// fastcgi/fcgitest parses records with separate code, and the integration
// tests run against a real php-fpm.
package fastcgi
