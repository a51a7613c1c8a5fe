package integration

// A WordPress-shaped tree with preset = "wordpress": pretty permalinks
// reach index.php with the original REQUEST_URI, wp-admin/ redirects and
// runs its index, static assets are served, uploads are served as files
// but a .php file there never runs, and PHP source is never returned.

import (
	"fmt"
	"strings"
	"testing"
)

var phpWordPressTree = map[string]string{
	"index.php":    `<?php echo "wp-front uri=" . $_SERVER['REQUEST_URI'] . " script=" . $_SERVER['SCRIPT_NAME'];`,
	"wp-login.php": `<?php echo "wp-login action=" . ($_GET['action'] ?? '');`,
	"wp-config.php": `<?php
define('DB_PASSWORD', 'hunter2-secret');
// Reached directly, the config prints nothing.
`,
	"wp-admin/index.php":                  `<?php echo "wp-admin dashboard";`,
	"wp-admin/css/admin.css":              ".wp-admin { margin: 0 }\n",
	"wp-includes/js/wp-embed.min.js":      "/* embed */\n",
	"wp-content/themes/t/style.css":       "/* theme */\n",
	"wp-content/uploads/2024/05/cat.jpg":  "JPEGDATA",
	"wp-content/uploads/2024/05/evil.php": `<?php echo "EVIL-RAN";`,
	"wp-content/uploads/shell.jpg":        `<?php echo "JPG-RAN";`,
	"readme.html":                         "<h1>WordPress</h1>\n",
}

func TestPHPWordPress(t *testing.T) {
	fpm := phpStartFPM(t)
	root := phpDir(t)
	phpWriteTree(t, root, phpWordPressTree)
	srv := phpStartFluxheim(t, fmt.Sprintf(`[[vhosts]]
name = "blog"
hosts = ["blog.test"]
[vhosts.web]
root = %[1]q
[vhosts.php]
preset = "wordpress"
root = %[1]q
[vhosts.php.fpm]
%[2]s
`, root, fpm.block("unix", "")))
	get := func(target string) phpResp { return phpGet(t, srv, "blog.test", target) }

	phpExpect(t, "home", get("/"), 200, "wp-front uri=/ script=/index.php")
	phpExpect(t, "permalink", get("/2024/05/hello-world/"), 200, "wp-front uri=/2024/05/hello-world/ script=/index.php")
	phpExpect(t, "permalink with query", get("/category/news/?paged=2"), 200, "uri=/category/news/?paged=2")
	phpExpect(t, "missing asset goes to WordPress (its 404 page)", get("/wp-content/uploads/missing.png"), 200, "wp-front")
	phpExpect(t, "login", get("/wp-login.php?action=lostpassword"), 200, "wp-login action=lostpassword")
	phpExpect(t, "admin index", get("/wp-admin/"), 200, "wp-admin dashboard")
	phpExpect(t, "admin css", get("/wp-admin/css/admin.css"), 200, ".wp-admin")
	phpExpect(t, "includes js", get("/wp-includes/js/wp-embed.min.js"), 200, "embed")
	phpExpect(t, "theme css", get("/wp-content/themes/t/style.css"), 200, "theme")
	phpExpect(t, "upload served as a file", get("/wp-content/uploads/2024/05/cat.jpg"), 200, "JPEGDATA")
	phpExpect(t, "static html", get("/readme.html"), 200, "<h1>WordPress</h1>")

	r := get("/wp-admin")
	if r.Status != 308 || r.Header.Get("Location") != "/wp-admin/" {
		t.Errorf("/wp-admin: %d Location %q, want 308 to /wp-admin/", r.Status, r.Header.Get("Location"))
	}
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/wp-content/uploads/2024/05/evil.php", 403},      // a script in uploads never runs
		{"/wp-content/uploads/2024/05/evil.php/x", 200},    // PATH_INFO is off: WordPress's index.php runs
		{"/wp-content/uploads/shell.jpg/x.php", 404},       // an image is never run as a script's "directory"
		{"/wp-content/uploads/2024/05/cat.jpg/x.php", 404}, //
		{"/wp-config.php", 200},                            // runs (prints nothing), never shows source
	} {
		r := get(tc.target)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.target, r.Status, tc.status)
		}
		for _, bad := range []string{"EVIL-RAN", "JPG-RAN", "<?php", "hunter2"} {
			if strings.Contains(r.Body, bad) {
				t.Errorf("%s: %d, body has %q: %q", tc.target, r.Status, bad, phpShort(r.Body))
			}
		}
	}
}
