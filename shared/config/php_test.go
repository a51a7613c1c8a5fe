package config

import (
	"strings"
	"testing"
)

// The golden fixtures validate PHP blocks as if the php-fpm module were
// compiled in, whatever the build; TestPHPNeedsModule covers the refusal.
func init() { phpModule = func() bool { return true } }

func TestPHPNeedsModule(t *testing.T) {
	phpModule = func() bool { return false }
	defer func() { phpModule = func() bool { return true } }()
	_, err := Parse("php.toml", []byte(`
[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.php]
root = "/srv"
[vhosts.php.fpm]
socket = "/run/php.sock"
`))
	if err == nil || !strings.Contains(err.Error(), `vhosts[0].php: needs module "php-fpm"`) {
		t.Fatalf("want the missing-module error, got %v", err)
	}
}

func TestPHPDisabledBlockIsRemoved(t *testing.T) {
	c, err := Parse("php.toml", []byte(`
[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.web]
root = "/srv"
[vhosts.php]
enabled = false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vhosts[0].PHP != nil {
		t.Fatalf("enabled = false kept the block: %+v", c.Vhosts[0].PHP)
	}
}

func TestManagedPoolNames(t *testing.T) {
	for _, tc := range []struct{ vhost, route, want string }{
		{"blog", "", "blog"},
		{"blog.example", "admin", "blog.example--admin"},
		{"a b/c", "", "a_b_c"},
		{".hidden", "x y", "_hidden--x_y"},
		{"", "", "_"},
		{"ünï", "", "__n__"}, // bytes, not runes
	} {
		if got := ManagedPoolName(tc.vhost, tc.route); got != tc.want {
			t.Errorf("ManagedPoolName(%q, %q) = %q, want %q", tc.vhost, tc.route, got, tc.want)
		}
	}
	f := &PHPFPM{SocketDir: "/run/fluxheim/php"}
	if got := f.ManagedSocketPath("blog--admin"); got != "/run/fluxheim/php/blog--admin.sock" {
		t.Errorf("ManagedSocketPath = %q", got)
	}
}

func TestManagedPoolsListsEveryManagedBlock(t *testing.T) {
	c, err := Parse("php.toml", []byte(`
[[vhosts]]
name = "shop"
hosts = ["shop.test"]
[vhosts.php]
root = "/srv/shop"
[vhosts.php.fpm]
mode = "managed"
php_fpm_binary = "/usr/sbin/php-fpm8.2"
socket_dir = "/run/fluxheim/php"
[[vhosts.routes]]
name = "legacy"
path_prefix = "/legacy/"
[vhosts.routes.php]
root = "/srv/legacy"
[vhosts.routes.php.fpm]
socket = "/run/php/legacy.sock"
[[vhosts.routes]]
name = "admin"
path_prefix = "/admin/"
[vhosts.routes.php]
root = "/srv/admin"
[vhosts.routes.php.fpm]
mode = "managed"
php_fpm_binary = "/usr/sbin/php-fpm8.2"
socket_dir = "/run/fluxheim/php"
`))
	if err != nil {
		t.Fatal(err)
	}
	pools := ManagedPools(c)
	if len(pools) != 2 || pools[0].Socket != "/run/fluxheim/php/shop.sock" || pools[1].Socket != "/run/fluxheim/php/shop--admin.sock" {
		t.Fatalf("pools = %+v", pools)
	}
	if pools[1].Route != "admin" || pools[1].PHP != c.Vhosts[0].Routes[1].PHP {
		t.Fatalf("pool 1 = %+v", pools[1])
	}
}
