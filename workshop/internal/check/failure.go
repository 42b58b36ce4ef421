package check

// Failure says what a check expected and what it saw instead.
type Failure struct {
	Expected string
	Seen     string
	Trace    string // the received trace as an indented tree, when it helps

	// where narrows the check's places to the ones this failure points at;
	// hint and step, when set, replace the check's: the failure's cause is
	// taught elsewhere (no span at all is the SDK's business, step 1.1).
	where      []*place
	hint, step string
}

func (f *Failure) Error() string { return "expected " + f.Expected + "; seen " + f.Seen }

func fail(expected, seen string) *Failure { return &Failure{Expected: expected, Seen: seen} }

// at says where to look for this failure; places of later stages are left
// out when the report is written.
func (f *Failure) at(places ...*place) *Failure {
	f.where = places
	return f
}

// atIfFailure points a *Failure at places; other errors pass as they are.
func atIfFailure(err error, places ...*place) error {
	if f, ok := err.(*Failure); ok {
		return f.at(places...)
	}
	return err
}
