package fastcgi

// Params is an encoded FastCGI name-value pair list (spec §3.4), built by
// Add in the order parameters are sent. The zero value is empty and ready.
// Names are sent as given; the caller decides precedence (a name added
// twice is sent twice).
type Params struct {
	buf []byte
	n   int
}

// Add appends one pair.
func (p *Params) Add(name, value string) {
	p.buf = appendLen(p.buf, len(name))
	p.buf = appendLen(p.buf, len(value))
	p.buf = append(p.buf, name...)
	p.buf = append(p.buf, value...)
	p.n++
}

// Len returns the number of pairs added.
func (p *Params) Len() int { return p.n }

// Bytes returns the encoded pairs (the PARAMS stream content).
func (p *Params) Bytes() []byte { return p.buf }

// Reset empties p, keeping its buffer.
func (p *Params) Reset() { p.buf, p.n = p.buf[:0], 0 }

// appendLen encodes a length: one byte up to 127, else four bytes with
// the high bit set.
func appendLen(b []byte, n int) []byte {
	if n <= 127 {
		return append(b, byte(n))
	}
	return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// DecodeParams decodes a PARAMS stream into name-value pairs, in order. It
// is the inverse of Params for tests and the fake application of
// fastcgi/fcgitest; ok is false when the encoding is malformed.
func DecodeParams(b []byte) (pairs [][2]string, ok bool) {
	for len(b) > 0 {
		var nl, vl int
		if nl, b, ok = decodeLen(b); !ok {
			return nil, false
		}
		if vl, b, ok = decodeLen(b); !ok {
			return nil, false
		}
		if nl+vl > len(b) || nl < 0 || vl < 0 {
			return nil, false
		}
		pairs = append(pairs, [2]string{string(b[:nl]), string(b[nl : nl+vl])})
		b = b[nl+vl:]
	}
	return pairs, true
}

func decodeLen(b []byte) (int, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), b[1:], true
	}
	if len(b) < 4 {
		return 0, nil, false
	}
	n := int(b[0]&0x7f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	return n, b[4:], true
}
