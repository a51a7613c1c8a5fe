package config

// Modules returns the build modules the config uses ("proxy", "web",
// "php-fpm"),
// for fluxheim-config-tester's profile check.
func (c *Config) Modules() []string {
	web, proxy, php := c.Web != nil, c.Proxy != nil, false
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		web = web || v.Web != nil
		proxy = proxy || v.Proxy != nil
		php = php || v.PHP != nil
		for j := range v.Routes {
			web = web || v.Routes[j].Web != nil
			proxy = proxy || v.Routes[j].Proxy != nil
			php = php || v.Routes[j].PHP != nil
		}
	}
	var out []string
	if proxy {
		out = append(out, "proxy")
	}
	if web {
		out = append(out, "web")
	}
	if php {
		out = append(out, "php-fpm")
	}
	return out
}
