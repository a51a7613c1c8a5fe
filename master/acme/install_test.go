package acme

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parser returns a parsePair that fails t on error.
func parser(t *testing.T) func(certPEM, keyPEM []byte) *Pair {
	return func(certPEM, keyPEM []byte) *Pair {
		t.Helper()
		p, err := parsePair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func TestCheckIssued(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	now := time.Now()
	mustParse := parser(t)
	good := mustParse(ca.valid(t, "a.example.test", "b.example.test"))
	if err := checkIssued(good, []string{"a.example.test", "b.example.test"}, now); err != nil {
		t.Fatalf("good pair rejected: %v", err)
	}
	if err := checkIssued(good, []string{"a.example.test", "c.example.test"}, now); err == nil ||
		!strings.Contains(err.Error(), "c.example.test") {
		t.Fatalf("uncovered domain accepted: %v", err)
	}
	expired := mustParse(ca.issue(t, []string{"a.example.test"}, now.Add(-48*time.Hour), now.Add(-time.Hour)))
	if err := checkIssued(expired, []string{"a.example.test"}, now); err == nil {
		t.Fatal("expired certificate accepted")
	}
	// A leaf followed by a CA that did not sign it.
	leafPEM, keyPEM := ca.valid(t, "a.example.test")
	leafOnly := leafPEM[:strings.Index(string(leafPEM), "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n")]
	wrongChain := append([]byte(string(leafOnly)), pemCert(other)...)
	if err := checkIssued(mustParse(wrongChain, keyPEM), []string{"a.example.test"}, now); err == nil {
		t.Fatal("broken chain accepted")
	}
	// A key that does not belong to the leaf.
	_, otherKey := ca.valid(t, "a.example.test")
	if _, err := parsePair(leafPEM, otherKey); err == nil {
		t.Fatal("mismatched key accepted")
	}
	if _, err := parsePair([]byte("garbage"), keyPEM); err == nil {
		t.Fatal("garbage chain accepted")
	}
}

func pemCert(ca *testCA) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

func TestInstallPairReplacesAndKeepsBackup(t *testing.T) {
	ca := newTestCA(t)
	dir := filepath.Join(t.TempDir(), "certificates", "site")
	if _, _, err := readPair(dir); !errors.Is(err, errNoPair) {
		t.Fatalf("empty dir: %v, want errNoPair", err)
	}
	c1, k1 := ca.valid(t, "a.example.test")
	c2, k2 := ca.valid(t, "a.example.test")
	if err := installPair(dir, c1, k1); err != nil {
		t.Fatal(err)
	}
	if err := installPair(dir, c2, k2); err != nil {
		t.Fatal(err)
	}
	p, files, err := readPair(dir)
	if err != nil || string(p.CertPEM) != string(c2) || files.cert != filepath.Join(dir, fullchainFile) {
		t.Fatalf("after two installs: %v %+v", err, files)
	}
	prev, err := loadPairFiles(filepath.Join(dir, fullchainFile+prevSuffix), filepath.Join(dir, privkeyFile+prevSuffix))
	if err != nil || string(prev.CertPEM) != string(c1) {
		t.Fatalf("backup: %v", err)
	}
	for _, name := range []string{fullchainFile, privkeyFile, fullchainFile + prevSuffix, privkeyFile + prevSuffix} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("leftover files: %v", entries)
	}
}

// The crash states of an install: readPair picks the matching pair and
// recoverPair rolls forward.
func TestInterruptedInstall(t *testing.T) {
	ca := newTestCA(t)
	oldC, oldK := ca.valid(t, "a.example.test")
	newC, newK := ca.valid(t, "a.example.test")
	write := func(t *testing.T, dir string, files map[string][]byte) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  []byte // chain readPair returns
	}{
		{"new key written only", map[string][]byte{fullchainFile: oldC, privkeyFile: oldK, privkeyFile + newSuffix: newK}, oldC},
		{"both new files written", map[string][]byte{fullchainFile: oldC, privkeyFile: oldK,
			privkeyFile + newSuffix: newK, fullchainFile + newSuffix: newC}, newC},
		{"key renamed, chain not", map[string][]byte{fullchainFile: oldC, privkeyFile: newK, fullchainFile + newSuffix: newC}, newC},
		{"first install, key renamed", map[string][]byte{privkeyFile: newK, fullchainFile + newSuffix: newC}, newC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			p, _, err := readPair(dir)
			if err != nil || string(p.CertPEM) != string(tt.want) {
				t.Fatalf("readPair: %v", err)
			}
			if err := recoverPair(dir); err != nil {
				t.Fatal(err)
			}
			p, files, err := readPair(dir)
			if err != nil || string(p.CertPEM) != string(tt.want) || files.cert != filepath.Join(dir, fullchainFile) ||
				files.key != filepath.Join(dir, privkeyFile) {
				t.Fatalf("after recovery: %v %+v", err, files)
			}
			for _, n := range []string{fullchainFile + newSuffix, privkeyFile + newSuffix} {
				if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
					t.Errorf("%s left behind", n)
				}
			}
		})
	}
}

func TestReadPairRejectsCorruptAndSymlinks(t *testing.T) {
	ca := newTestCA(t)
	c, k := ca.valid(t, "a.example.test")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, fullchainFile), c, 0o600)
	os.WriteFile(filepath.Join(dir, privkeyFile), []byte("not a key"), 0o600)
	if _, _, err := readPair(dir); err == nil || errors.Is(err, errNoPair) {
		t.Fatalf("corrupt key: %v", err)
	}
	target := filepath.Join(t.TempDir(), "key")
	os.WriteFile(target, k, 0o600)
	os.Remove(filepath.Join(dir, privkeyFile))
	if err := os.Symlink(target, filepath.Join(dir, privkeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readPair(dir); err == nil {
		t.Fatal("symlinked key accepted")
	}
	os.Remove(filepath.Join(dir, privkeyFile))
	if _, _, err := readPair(dir); err == nil || errors.Is(err, errNoPair) {
		t.Fatalf("chain without key: %v", err)
	}
}
