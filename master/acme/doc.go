// Package acme obtains and renews certificates from an ACME CA (RFC 8555)
// for the master process, on top of github.com/go-acme/lego.
//
// The master alone runs this package: it holds the ACME account keys and
// the certificate private keys under Options.Storage. Workers never touch
// that directory; they receive challenge answers through the Presenter and
// issued certificates through Options.OnCertificate, both of which the
// master forwards over its control channel.
//
// # Storage layout
//
// Every directory is 0700 and every file 0600, owned by the master's user:
//
//	<storage>/.lock                                  flock held while issuing or renewing
//	<storage>/accounts/<issuer-seg>/account-key.pem  ACME account key (ECDSA P-256, PKCS#8)
//	<storage>/accounts/<issuer-seg>/credentials.json account URL, contact, directory, agreed terms
//	<storage>/certificates/<vhost-seg>/fullchain.pem leaf first, then intermediates
//	<storage>/certificates/<vhost-seg>/privkey.pem   certificate key (ECDSA P-256, PKCS#8)
//	<storage>/certificates/<vhost-seg>/state.json    renewal state: failures, last error, next attempt
//	<storage>/certificates/<vhost-seg>/*.prev        the pair installed before the current one
//
// Segments are made by [Segment]: the name lower-cased, reduced to
// [a-z0-9._-], and suffixed with a hash of the original name, so distinct
// names never share a directory and no name escapes its parent.
//
// # One writer at a time
//
// Issuing, renewing and installing happen only while holding an exclusive
// flock(2) on <storage>/.lock. During a binary upgrade the old and the new
// master both run a Manager on the same storage: whichever starts a pass
// second waits for the lock (polling, so its context can still cancel it)
// until the other finishes its pass or exits — the kernel drops the lock
// of a process that dies, and the lock file is opened close-on-exec, so a
// new master exec'd by the old one does not inherit it. Every pass re-reads the certificates and the
// renewal state from disk under the lock, so a master never acts on what
// another one changed meanwhile. Readers ([Manager.Load], [Manager.Status])
// take no lock: installs are atomic renames, and a reader that catches the
// moment between the key and the certificate rename picks the pair that
// matches (see installPair).
//
// Because each master hands pairs to its own workers, a Manager remembers
// what it handed out (Load, OnCertificate) and every pass ends with
// [Manager.Refresh], which passes on any pair that another process
// installed meanwhile.
//
// # Installs
//
// An issued chain is checked before it is installed: the chain parses and
// each certificate is signed by the next, the leaf is valid now, its SAN
// set covers every domain of the target, and the private key matches it.
// The new pair is first written as fullchain.pem.new and privkey.pem.new
// (temporary file, fsync, rename), the current pair is hard-linked to
// *.prev, then the key and the certificate are renamed into place and the
// directory is fsynced. A failure at any step keeps the previous pair; a
// crash between the two renames is rolled forward by the next pass.
package acme
