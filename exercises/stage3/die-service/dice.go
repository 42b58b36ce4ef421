package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
)

// Spec describes one die: the faces it can show and how often a roll fails.
type Spec struct {
	Faces     []int   `json:"faces"`
	ErrorRate float64 `json:"error_rate"`
}

// Catalog is the set of dice this service knows, loaded once at startup.
type Catalog map[string]Spec

//go:embed dice.json
var defaultSpecs []byte

// loadCatalog reads DIE_SPECS_FILE, or the embedded default when it is unset.
func loadCatalog(path string) (Catalog, error) {
	data := defaultSpecs
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("cannot read DIE_SPECS_FILE: %w", err)
		}
	}
	c, err := parseCatalog(data)
	if err != nil && path != "" {
		return nil, fmt.Errorf("DIE_SPECS_FILE %s: %w", path, err)
	}
	return c, err
}

// parseCatalog refuses a file that would let the dice-roller misbehave later:
// a die with no faces, or an error rate that is not a probability.
func parseCatalog(data []byte) (Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("invalid die specifications: %w", err)
	}
	if len(c) == 0 {
		return nil, errors.New("invalid die specifications: no dice defined")
	}
	for _, id := range c.Identifiers() {
		spec := c[id]
		switch {
		case id == "":
			return nil, errors.New("invalid die specifications: a die has an empty identifier")
		case len(spec.Faces) == 0:
			return nil, fmt.Errorf("invalid die %q: it has no faces", id)
		case spec.ErrorRate < 0 || spec.ErrorRate > 1:
			return nil, fmt.Errorf("invalid die %q: error_rate %v is outside [0, 1]", id, spec.ErrorRate)
		}
	}
	return c, nil
}

// Identifiers lists the known dice, sorted.
func (c Catalog) Identifiers() []string {
	return slices.Sorted(maps.Keys(c))
}
