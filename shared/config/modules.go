package config

// Modules returns the build modules the config uses ("web", "proxy"),
// for fluxheim-config-tester's profile check.
func (c *Config) Modules() []string {
	web, proxy := c.Web != nil, c.Proxy != nil
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		web = web || v.Web != nil
		proxy = proxy || v.Proxy != nil
		for j := range v.Routes {
			web = web || v.Routes[j].Web != nil
			proxy = proxy || v.Routes[j].Proxy != nil
		}
	}
	var out []string
	if proxy {
		out = append(out, "proxy")
	}
	if web {
		out = append(out, "web")
	}
	return out
}
