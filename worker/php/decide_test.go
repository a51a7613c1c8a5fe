package php

import (
	"testing"

	"github.com/fluxheim/fluxheim/shared/config"
)

func TestDecide(t *testing.T) {
	root := makeRoot(t)
	front := newHandler(t, block(root, nil, func(c *config.PHP) { c.Preset = "wordpress" }))
	strict := newHandler(t, block(root, nil, func(c *config.PHP) { c.TryFiles = "strict" }))
	split := newHandler(t, block(root, nil, func(c *config.PHP) {
		c.PathInfo = "split"
		c.DenyPathPrefixes = []string{"/wp-content/uploads/"}
	}))
	run := func(script, info string) plan { return plan{act: actRun, script: script, pathInfo: info} }
	for _, tc := range []struct {
		name string
		h    *Handler
		path string
		want plan
	}{
		{"explicit script", front, "/info.php", run("/info.php", "")},
		{"root runs the index", front, "/", run("/index.php", "")},
		{"pretty URL to the front controller", front, "/2024/05/hello-world/", run("/index.php", "")},
		{"missing file to the front controller", front, "/missing.css", run("/index.php", "")},
		{"existing static file", front, "/style.css", plan{act: actStatic}},
		{"static file in uploads", front, "/wp-content/uploads/cat.jpg", plan{act: actStatic}},
		{"script in a denied upload directory", front, "/wp-content/uploads/evil.php", plan{act: actForbidden}},
		{"missing script is 404, not the front controller", front, "/nope.php", plan{act: actNotFound}},
		{"upload/evil.jpg/x.php never runs evil.jpg", front, "/upload/evil.jpg/x.php", plan{act: actNotFound}},
		{"upload/evil.jpg/x.php with split", split, "/upload/evil.jpg/x.php", plan{act: actNotFound}},
		{"path info off: script/extra goes to the front controller", front, "/info.php/extra", run("/index.php", "")},
		{"path info split", split, "/info.php/a/b", run("/info.php", "/a/b")},
		{"split into a denied script", split, "/wp-content/uploads/evil.php/x", plan{act: actForbidden}},
		{"directory with index, no slash", front, "/sub", plan{act: actRedirect}},
		{"directory with index", front, "/sub/", run("/sub/index.php", "")},
		{"directory named like a script", front, "/dir.php/", run("/dir.php/index.php", "")},
		{"directory with a static index", front, "/plain/", plan{act: actStatic}},
		{"directory without index to the front controller", front, "/empty/", run("/index.php", "")},
		{"strict: missing is 404", strict, "/2024/05/hello/", plan{act: actNotFound}},
		{"strict: empty directory is 404", strict, "/empty/", plan{act: actNotFound}},
		{"strict: script runs", strict, "/info.php", run("/info.php", "")},
		{"symlinked script refused", front, "/link.php", plan{act: actNotFound}},
		{"hidden directory script", front, "/.hidden/x.php", plan{act: actNotFound}},
		{"PHP source with another extension is never static", front, "/template.phtml", plan{act: actForbidden}},
		{"upper-case extension is still PHP", front, "/INFO.PHP", plan{act: actNotFound}},
		{"newline in the path", split, "/info.php/\nx", plan{act: actBadPath}},
		{"backslash", front, "/a\\b.php", plan{act: actBadPath}},
		{"files/ stays static with the preset", front, "/files/report.pdf", plan{act: actStatic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.decide(tc.path); got != tc.want {
				t.Fatalf("decide(%q) = %+v, want %+v", tc.path, got, tc.want)
			}
		})
	}
}
