package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenValid parses every testdata/valid/*.toml and compares the
// resolved config (JSON) with its .golden file.
func TestGoldenValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.toml")
	if len(files) == 0 {
		t.Fatal("no valid fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(f, data)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, strings.TrimSuffix(f, ".toml")+".golden", append(got, '\n'))
		})
	}
}

// TestGoldenInvalid parses every testdata/invalid/*.toml and compares the
// full error text (every error, with file:line) with its .err file.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.toml")
	if len(files) == 0 {
		t.Fatal("no invalid fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(f, data)
			if err == nil {
				t.Fatal("config was accepted")
			}
			compareGolden(t, strings.TrimSuffix(f, ".toml")+".err", []byte(err.Error()+"\n"))
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./shared/config -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs.\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
