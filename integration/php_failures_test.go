package integration

// What fluxheim answers when PHP misbehaves: a header with CR/LF or a
// control byte (502), a response over max_response_bytes (502), a script
// sleeping past the deadline (504), php-fpm down (502), an intercepted
// status with a custom error page, and a stderr failure pattern.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
)

var phpFailureScripts = map[string]string{
	// PHP itself refuses CR/LF in header() (a warning on stderr, the
	// header is dropped); a vertical tab gets through PHP.
	"crlf.php":  `<?php header("X-Evil: a\r\nInjected: 1"); echo "crlf-body";`,
	"vt.php":    `<?php header("X-Evil: a\x0bInjected: 1"); echo "vt-body";`,
	"big.php":   `<?php echo str_repeat("x", (int)$_GET['n']);`,
	"sleep.php": `<?php sleep((int)$_GET['s']); echo "woke";`,
	"error.php": `<?php http_response_code(500); header("Set-Cookie: leak=1"); echo "Fatal: stack trace with secrets";`,
	"gone.php":  `<?php http_response_code(410); echo "gone from php";`,
	"ok.php":    `<?php echo "fine";`,
}

func TestPHPFailures(t *testing.T) {
	fpm := phpStartFPM(t)
	root, pages := phpDir(t), phpDir(t)
	phpWriteTree(t, root, phpFailureScripts)
	phpWriteTree(t, pages, map[string]string{"50x.html": "<h1>We are sorry</h1>\n"})
	// On the wire a CR/LF pair ends a header line, so what can be caught
	// is a CR that does not: "X-Evil: a<CR>Injected: 1" would be two
	// header lines to a lenient parser downstream.
	fake := fcgitest.StartUnix(t, fcgitest.Respond("Content-Type: text/html\r\nX-Evil: a\rInjected: 1\r\n\r\nraw-body"))
	vhost := func(name, fpmBlock, extra string) string {
		return fmt.Sprintf("[[vhosts]]\nname = %[1]q\nhosts = [\"%[1]s.test\"]\n[vhosts.php]\nroot = %[2]q\n%[3]s\n[vhosts.php.fpm]\n%[4]s\n",
			name, root, extra, fpmBlock)
	}
	srv := phpStartFluxheim(t, strings.Join([]string{
		vhost("plain", fpm.block("unix", ""), ""),
		vhost("patterns", fpm.block("unix", ""), `stderr_failure_patterns = ["Header may not contain"]`),
		vhost("small", fpm.block("unix", ""), `max_response_bytes = "64KiB"`),
		vhost("slow", fpm.block("tcp", ""), "request_timeout_secs = 1"),
		vhost("down", fmt.Sprintf("socket = %q", fpm.Socket+".missing"), ""),
		vhost("fake", fmt.Sprintf("socket = %q", fake.Addr), ""),
		vhost("pages", fpm.block("unix", ""), fmt.Sprintf(`intercept_error_statuses = [500]
[[vhosts.php.error_pages]]
status = 500
path = "/50x.html"
[vhosts.php.error_pages.web]
root = %[1]q
cache_control = ""
[[vhosts.php.error_pages]]
status = 502
path = "/50x.html"
[vhosts.php.error_pages.web]
root = %[1]q`, pages)),
	}, "\n"))

	t.Run("CR LF in a header", func(t *testing.T) {
		// PHP drops the header and warns: nothing is injected.
		r := phpGet(t, srv, "plain.test", "/crlf.php")
		if r.Status != 200 || r.Header.Get("Injected") != "" || r.Header.Get("X-Evil") != "" {
			t.Errorf("crlf.php: %d %v", r.Status, r.Header)
		}
		// With the warning as a failure pattern the response is refused.
		phpExpect(t, "crlf.php with a failure pattern", phpGet(t, srv, "patterns.test", "/crlf.php"), 502, "")
		phpExpect(t, "unaffected script", phpGet(t, srv, "patterns.test", "/ok.php"), 200, "fine")
		// A FastCGI application that does send a CR inside a header.
		r = phpGet(t, srv, "fake.test", "/ok.php")
		if r.Status != 502 || r.Header.Get("Injected") != "" || strings.Contains(r.Body, "raw-body") {
			t.Errorf("raw CR/LF: %d %v %q", r.Status, r.Header, r.Body)
		}
	})
	t.Run("control byte in a header", func(t *testing.T) {
		r := phpGet(t, srv, "plain.test", "/vt.php")
		if r.Status != 502 || strings.Contains(r.Body, "vt-body") {
			t.Errorf("vt.php: %d %q", r.Status, r.Body)
		}
	})
	t.Run("max_response_bytes", func(t *testing.T) {
		phpExpect(t, "below the limit", phpGet(t, srv, "small.test", "/big.php?n=60000"), 200, "xxxx")
		r := phpGet(t, srv, "small.test", "/big.php?n=70000")
		if r.Status != 502 || strings.Contains(r.Body, "xxxx") {
			t.Errorf("over the limit: %d, %d body bytes", r.Status, len(r.Body))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		phpExpect(t, "sleep 3 s with a 1 s deadline", phpGet(t, srv, "slow.test", "/sleep.php?s=3"), 504, "")
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("504 after %v, want about 1 s", d)
		}
		phpExpect(t, "fast script", phpGet(t, srv, "slow.test", "/sleep.php?s=0"), 200, "woke")
	})
	t.Run("php-fpm down", func(t *testing.T) {
		phpExpect(t, "missing socket", phpGet(t, srv, "down.test", "/ok.php"), 502, "")
	})
	t.Run("intercepted status with an error page", func(t *testing.T) {
		r := phpGet(t, srv, "pages.test", "/error.php")
		if r.Status != 500 || !strings.Contains(r.Body, "We are sorry") || strings.Contains(r.Body, "secrets") || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("error.php: %d %v %q", r.Status, r.Header, r.Body)
		}
		phpExpect(t, "not intercepted", phpGet(t, srv, "pages.test", "/gone.php"), 410, "gone from php")
		phpExpect(t, "plain vhost passes 500 through", phpGet(t, srv, "plain.test", "/error.php"), 500, "stack trace")
	})
	// Last: stopping php-fpm turns every request into 502 (with the
	// vhost's 502 page where it has one).
	t.Run("php-fpm stopped", func(t *testing.T) {
		fpm.Stop()
		phpExpect(t, "plain", phpGet(t, srv, "plain.test", "/ok.php"), 502, "")
		phpExpect(t, "slow (tcp)", phpGet(t, srv, "slow.test", "/ok.php"), 502, "")
		phpExpect(t, "with a 502 page", phpGet(t, srv, "pages.test", "/ok.php"), 502, "We are sorry")
	})
}
