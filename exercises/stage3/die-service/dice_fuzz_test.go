package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzLoadCatalog gives the loader any bytes as DIE_SPECS_FILE: it must
// answer either a catalog the dice-roller can roll with, or an error that
// says which file is wrong, never panic. The seeds are in
// testdata/fuzz/FuzzLoadCatalog; a longer run:
//
//	go test -run '^$' -fuzz '^FuzzLoadCatalog$' -fuzztime 30s ./die-service
func FuzzLoadCatalog(f *testing.F) {
	f.Add(defaultSpecs) // the embedded dice.json
	path := filepath.Join(f.TempDir(), "dice.json")

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadCatalog(path)
		if err != nil {
			if c != nil {
				t.Fatalf("an error (%v) came with a catalog %v", err, c)
			}
			// One clear line naming the file and what is wrong with it.
			msg := err.Error()
			if !strings.HasPrefix(msg, "DIE_SPECS_FILE "+path+": invalid die") {
				t.Fatalf("the error does not name the file and the problem: %q", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("the error is more than one line: %q", msg)
			}
			return
		}
		checkCatalog(t, c)

		// The die-service answers each spec as JSON: what it serves must load
		// again as the same catalog.
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("the catalog cannot be encoded: %v", err)
		}
		back, err := parseCatalog(again)
		if err != nil {
			t.Fatalf("the encoded catalog %s is refused: %v", again, err)
		}
		if !catalogsEqual(c, back) {
			t.Fatalf("encoding changed the catalog: %v became %v", c, back)
		}
	})
}

// checkCatalog asserts what parseCatalog promises of a catalog it accepts.
func checkCatalog(t *testing.T, c Catalog) {
	t.Helper()
	if len(c) == 0 {
		t.Fatal("an empty catalog was accepted")
	}
	ids := c.Identifiers()
	if len(ids) != len(c) || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("Identifiers() = %q: not the %d keys, sorted, once each", ids, len(c))
	}
	for _, id := range ids {
		spec := c[id]
		switch {
		case id == "":
			t.Fatal("a die with an empty identifier was accepted")
		case len(spec.Faces) == 0:
			t.Fatalf("die %q has no faces", id)
		case !(spec.ErrorRate >= 0 && spec.ErrorRate <= 1): // NaN fails too
			t.Fatalf("die %q: error_rate %v is not a probability", id, spec.ErrorRate)
		}
	}
}

func catalogsEqual(a, b Catalog) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a.Identifiers(), func(id string) bool {
		other, ok := b[id]
		return !ok || a[id].ErrorRate != other.ErrorRate || !slices.Equal(a[id].Faces, other.Faces)
	})
}
