package config

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/fluxheim/fluxheim/shared/tmpl"
)

// validateHeaderPolicies checks every [headers] block as written, before
// overlaying, so each error points at the block that holds it.
func validateHeaderPolicies(c *Config, errs *errList) {
	validateHeaders(c.Headers, "headers", nil, errs)
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		validateHeaders(v.Headers, fmt.Sprintf("vhosts[%d].headers", i), nil, errs)
		for j := range v.Routes {
			r := &v.Routes[j]
			var names []string
			if r.PathRegex != "" {
				names = regexNames(r.PathRegex)
			}
			validateHeaders(r.Headers, fmt.Sprintf("vhosts[%d].routes[%d].headers", i, j), names, errs)
		}
	}
}

// regexNames returns the capture names of a route regex for template
// checks ({route.regex.N} always allowed up to the group count); nil
// (no captures allowed) when it does not compile — that error is reported
// with the route.
func regexNames(src string) []string {
	re, err := compileRouteRegex(src)
	if err != nil {
		return nil
	}
	return re.SubexpNames()
}

func validateHeaders(h *Headers, key string, captures []string, errs *errList) {
	if h == nil {
		return
	}
	opts := tmpl.ParseOptions{Captures: captures != nil, CaptureNames: captures}
	if q := h.Request; q != nil {
		k := key + ".request"
		switch q.XForwardedFor {
		case "", "off", "replace", "append":
		default:
			errs.add(k+".x_forwarded_for", "want off, replace or append, got %q", q.XForwardedFor)
		}
		checkNameList(errs, k+".remove", q.Remove)
		checkNameList(errs, k+".unset", q.Unset)
		checkAddSet(errs, k, q.Add, q.Set, opts)
		checkAppend(errs, k+".append", q.Append, opts)
	}
	if s := h.Response; s != nil {
		k := key + ".response"
		for name, v := range map[string]*string{
			"x_content_type_options": s.XContentTypeOptions, "x_frame_options": s.XFrameOptions,
			"referrer_policy": s.ReferrerPolicy, "content_security_policy": s.ContentSecurityPolicy,
			"strict_transport_security": s.StrictTransportSecurity,
		} {
			if v != nil && !headerSafe(*v) {
				errs.add(k+"."+name, "contains control characters")
			}
		}
		checkNameList(errs, k+".remove", s.Remove)
		checkNameList(errs, k+".unset", s.Unset)
		checkAddSet(errs, k, s.Add, s.Set, opts)
		checkAppend(errs, k+".append", s.Append, opts)
	}
}

func checkNameList(errs *errList, key string, names []string) {
	if len(names) > maxHeaderNames {
		errs.add(key, "%d names exceed the limit of %d", len(names), maxHeaderNames)
	}
	for _, n := range names {
		if !isToken(n) {
			errs.add(key, "%q is not a valid header name", n)
		}
	}
}

func checkAddSet(errs *errList, key string, add, set map[string]string, opts tmpl.ParseOptions) {
	for _, t := range []struct {
		name string
		m    map[string]string
	}{{"add", add}, {"set", set}} {
		if len(t.m) > maxHeaderNames {
			errs.add(key+"."+t.name, "%d headers exceed the limit of %d", len(t.m), maxHeaderNames)
		}
		for n, v := range t.m {
			hk := key + "." + t.name + "." + n
			if !isToken(n) {
				errs.add(hk, "%q is not a valid header name", n)
			}
			if _, err := tmpl.Parse(v, opts); err != nil {
				errs.add(hk, "%v", err)
			}
		}
	}
	for n := range add {
		for m := range set {
			if http.CanonicalHeaderKey(n) == http.CanonicalHeaderKey(m) {
				errs.add(key+".set."+m, "header %q is also in %s.add; set it in one table", m, key)
			}
		}
	}
}

func checkAppend(errs *errList, key string, m map[string][]string, opts tmpl.ParseOptions) {
	if len(m) > maxHeaderNames {
		errs.add(key, "%d headers exceed the limit of %d", len(m), maxHeaderNames)
	}
	for n, vs := range m {
		hk := key + "." + n
		if !isToken(n) {
			errs.add(hk, "%q is not a valid header name", n)
		}
		if len(vs) > maxAppendValues {
			errs.add(hk, "%d values exceed the limit of %d", len(vs), maxAppendValues)
		}
		for _, v := range vs {
			if strings.Contains(v, "{tls.") {
				errs.add(hk, "TLS identity templates are not allowed in append")
			}
			if _, err := tmpl.Parse(v, opts); err != nil {
				errs.add(hk, "%v", err)
			}
		}
	}
}
