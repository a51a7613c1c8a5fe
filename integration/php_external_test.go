package integration

// PHP through an external php-fpm, over a unix socket and over TCP: CGI
// variables as PHP sees them, GET, POST (urlencoded and a 5 MiB multipart
// upload), query strings, cookies, custom headers, a front-controller app
// with pretty URLs, X-Accel-Redirect and stderr logging.

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// phpSiteScripts is the tree of the "site.test" vhost.
var phpSiteScripts = map[string]string{
	"server.php": `<?php
header('Content-Type: application/json');
$keys = ['REQUEST_METHOD','REQUEST_URI','QUERY_STRING','SCRIPT_NAME','SCRIPT_FILENAME','DOCUMENT_ROOT',
  'DOCUMENT_URI','PATH_INFO','SERVER_NAME','SERVER_PORT','SERVER_PROTOCOL','SERVER_SOFTWARE','GATEWAY_INTERFACE',
  'HTTPS','REQUEST_SCHEME','REMOTE_ADDR','REDIRECT_STATUS','CONTENT_TYPE','CONTENT_LENGTH','HTTP_HOST',
  'HTTP_COOKIE','HTTP_X_CUSTOM','HTTP_PROXY','HTTP_X_REQUEST_ID'];
$s = [];
foreach ($keys as $k) { $s[$k] = $_SERVER[$k] ?? null; }
$files = [];
foreach ($_FILES as $n => $f) {
  $files[$n] = ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'],
    'md5' => $f['error'] === 0 ? md5_file($f['tmp_name']) : null];
}
echo json_encode(['server' => $s, 'get' => (object)$_GET, 'post' => (object)$_POST, 'cookie' => (object)$_COOKIE,
  'files' => (object)$files, 'input' => file_get_contents('php://input'), 'env_proxy' => getenv('HTTP_PROXY')]);
`,
	"accel.php": `<?php
header('X-Accel-Redirect: /protected/report.txt');
header('Content-Disposition: attachment; filename="report.txt"');
echo "this body is replaced";
`,
	"accel-source.php":     `<?php header('X-Accel-Redirect: /server.php');`,
	"stderr.php":           `<?php error_log("hello from stderr"); echo "ok";`,
	"protected/report.txt": "quarterly numbers\n",
	"style.css":            "body { color: black }\n",
}

// phpFrontScripts is a front-controller app with pretty URLs.
var phpFrontScripts = map[string]string{
	"index.php": `<?php
header('Content-Type: application/json');
echo json_encode(['route' => parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH),
  'uri' => $_SERVER['REQUEST_URI'], 'script' => $_SERVER['SCRIPT_NAME'], 'get' => (object)$_GET]);
`,
	"assets/app.js": "console.log('app');\n",
}

// phpExternalVhosts renders the vhosts of the external-mode tests.
func phpExternalVhosts(fpm *phpFPM, network, site, front string) string {
	return fmt.Sprintf(`[[vhosts]]
name = "site"
hosts = ["site.test"]
[vhosts.web]
root = %[1]q
[vhosts.php]
root = %[1]q
[vhosts.php.fpm]
%[3]s
[[vhosts]]
name = "front"
hosts = ["front.test"]
[vhosts.php]
root = %[2]q
[vhosts.php.fpm]
%[4]s
`, site, front, fpm.block(network, ""), fpm.block(network, "keepalive = true\npool_max_idle = 2\n"))
}

// TestPHPExternal runs every external-mode check over the unix socket and
// over TCP (the front-controller vhost keeps connections alive).
func TestPHPExternal(t *testing.T) {
	fpm := phpStartFPM(t)
	site, front := phpDir(t), phpDir(t)
	phpWriteTree(t, site, phpSiteScripts)
	phpWriteTree(t, front, phpFrontScripts)
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			srv := phpStartFluxheim(t, phpExternalVhosts(fpm, network, site, front))
			t.Run("server variables", func(t *testing.T) { phpCheckServerVars(t, srv, site) })
			t.Run("GET query, cookies, headers", func(t *testing.T) { phpCheckGet(t, srv) })
			t.Run("POST urlencoded", func(t *testing.T) { phpCheckPostForm(t, srv) })
			t.Run("POST multipart 5 MiB", func(t *testing.T) { phpCheckUpload(t, srv) })
			t.Run("front controller", func(t *testing.T) { phpCheckFrontController(t, srv) })
			t.Run("X-Accel-Redirect", func(t *testing.T) { phpCheckAccel(t, srv) })
			t.Run("stderr logged", func(t *testing.T) {
				phpExpect(t, "stderr.php", phpGet(t, srv, "site.test", "/stderr.php"), 200, "ok")
				if !srv.WaitLog("hello from stderr", 5*time.Second) {
					t.Error("the script's stderr line is not in fluxheim's log")
				}
			})
		})
	}
}

type phpServerDump struct {
	Server   map[string]*string `json:"server"`
	Get      map[string]any     `json:"get"`
	Post     map[string]any     `json:"post"`
	Cookie   map[string]string  `json:"cookie"`
	Files    map[string]phpFile `json:"files"`
	Input    string             `json:"input"`
	EnvProxy any                `json:"env_proxy"`
}

type phpFile struct {
	Name  string `json:"name"`
	Size  int    `json:"size"`
	Error int    `json:"error"`
	MD5   string `json:"md5"`
}

func phpDump(t *testing.T, r phpResp) phpServerDump {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, phpShort(r.Body))
	}
	var d phpServerDump
	if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
		t.Fatalf("%v in %s", err, phpShort(r.Body))
	}
	return d
}

func phpCheckServerVars(t *testing.T, s phpServer, root string) {
	d := phpDump(t, phpGet(t, s, "site.test", "/server.php?x=1&y=%C3%A9", "X-Custom: custom value", "Proxy: http://attacker:3128"))
	want := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/server.php?x=1&y=%C3%A9", "QUERY_STRING": "x=1&y=%C3%A9",
		"SCRIPT_NAME": "/server.php", "SCRIPT_FILENAME": root + "/server.php", "DOCUMENT_ROOT": root,
		"DOCUMENT_URI": "/server.php", "SERVER_NAME": "site.test", "SERVER_PORT": "80",
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "fluxheim", "GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1", "REDIRECT_STATUS": "200",
		"CONTENT_LENGTH": "0", "HTTP_HOST": "site.test", "HTTP_X_CUSTOM": "custom value",
	}
	for k, v := range want {
		if got := d.Server[k]; got == nil || *got != v {
			t.Errorf("$_SERVER[%s] = %v, want %q", k, deref(got), v)
		}
	}
	for _, k := range []string{"HTTPS", "HTTP_PROXY", "PATH_INFO"} {
		if got := d.Server[k]; got != nil {
			t.Errorf("$_SERVER[%s] = %q, want unset", k, *got)
		}
	}
	if d.EnvProxy != false {
		t.Errorf("getenv('HTTP_PROXY') = %v (HTTPoxy)", d.EnvProxy)
	}
	if id := d.Server["HTTP_X_REQUEST_ID"]; id == nil || *id == "" {
		t.Error("the request id did not reach PHP")
	}
	if d.Get["y"] != "é" {
		t.Errorf("$_GET = %v", d.Get)
	}
}

func deref(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func phpCheckGet(t *testing.T, s phpServer) {
	d := phpDump(t, phpGet(t, s, "site.test", "/server.php?list[]=a&list[]=b&empty=",
		"Cookie: session=abc", "Cookie: theme=dark; lang=de"))
	if d.Cookie["session"] != "abc" || d.Cookie["theme"] != "dark" || d.Cookie["lang"] != "de" {
		t.Errorf("$_COOKIE = %v (several Cookie lines must be joined)", d.Cookie)
	}
	if c := d.Server["HTTP_COOKIE"]; c == nil || *c != "session=abc; theme=dark; lang=de" {
		t.Errorf("HTTP_COOKIE = %v", deref(c))
	}
	if l, ok := d.Get["list"].([]any); !ok || len(l) != 2 || d.Get["empty"] != "" {
		t.Errorf("$_GET = %v", d.Get)
	}
	// A static file next to the scripts is served by the static handler.
	phpExpect(t, "style.css", phpGet(t, s, "site.test", "/style.css"), 200, "color: black")
}

func phpCheckPostForm(t *testing.T, s phpServer) {
	form := url.Values{"name": {"Zoë"}, "tags[]": {"a", "b"}}.Encode()
	d := phpDump(t, phpDo(t, s, http.MethodPost, "site.test", "/server.php?via=query", strings.NewReader(form),
		"Content-Type: application/x-www-form-urlencoded"))
	if d.Post["name"] != "Zoë" || d.Get["via"] != "query" {
		t.Errorf("$_POST = %v, $_GET = %v", d.Post, d.Get)
	}
	if cl := d.Server["CONTENT_LENGTH"]; cl == nil || *cl != fmt.Sprint(len(form)) {
		t.Errorf("CONTENT_LENGTH = %v, want %d", deref(cl), len(form))
	}
	// A raw body of unknown length (chunked) arrives whole.
	raw := strings.Repeat("raw-body;", 10000)
	r := phpDo(t, s, http.MethodPost, "site.test", "/server.php", struct{ *strings.Reader }{strings.NewReader(raw)},
		"Content-Type: text/plain")
	if d := phpDump(t, r); d.Input != raw {
		t.Errorf("chunked body: PHP read %d bytes, want %d", len(d.Input), len(raw))
	}
}

func phpCheckUpload(t *testing.T, s phpServer) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	sum := md5.Sum(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("title", "big file")
	fw, _ := mw.CreateFormFile("upload", "big.bin")
	_, _ = fw.Write(data)
	_ = mw.Close()
	d := phpDump(t, phpDo(t, s, http.MethodPost, "site.test", "/server.php", &body, "Content-Type: "+mw.FormDataContentType()))
	f := d.Files["upload"]
	if f.Error != 0 || f.Size != len(data) || f.MD5 != hex.EncodeToString(sum[:]) || f.Name != "big.bin" || d.Post["title"] != "big file" {
		t.Errorf("upload: %+v, post %v", f, d.Post)
	}
}

func phpCheckFrontController(t *testing.T, s phpServer) {
	for _, target := range []string{"/", "/blog/2024/05/hello-world", "/users/42/edit?tab=profile", "/missing.css"} {
		r := phpGet(t, s, "front.test", target)
		var got struct {
			Route, URI, Script string
		}
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &got) != nil {
			t.Errorf("%s: %d %s", target, r.Status, phpShort(r.Body))
			continue
		}
		if got.URI != target || got.Script != "/index.php" {
			t.Errorf("%s: REQUEST_URI %q, SCRIPT_NAME %q", target, got.URI, got.Script)
		}
	}
	phpExpect(t, "asset", phpGet(t, s, "front.test", "/assets/app.js"), 200, "console.log")
	phpExpect(t, "missing explicit script", phpGet(t, s, "front.test", "/nope.php"), 404, "")
}

func phpCheckAccel(t *testing.T, s phpServer) {
	r := phpDo(t, s, http.MethodPost, "site.test", "/accel.php", strings.NewReader("x=1"), "Content-Type: application/x-www-form-urlencoded")
	if r.Status != 200 || r.Body != "quarterly numbers\n" || !strings.Contains(r.Header.Get("Content-Disposition"), "report.txt") ||
		r.Header.Get("X-Accel-Redirect") != "" {
		t.Errorf("X-Accel-Redirect: %d %q %v", r.Status, r.Body, r.Header)
	}
	phpExpect(t, "X-Accel-Redirect to PHP source", phpGet(t, s, "site.test", "/accel-source.php"), 502, "")
}
