package class

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DBFile is the class's state file in the --data folder.
const DBFile = "class.db"

// The buckets of the state file.
var (
	bucketClass    = []byte("class")    // "code", "created"
	bucketLearners = []byte("learners") // learner id → Learner JSON
	bucketResults  = []byte("results")  // "id/stage" → Stored JSON
)

// Learner is one row of the board, as stored.
type Learner struct {
	ID        string    `json:"id"`   // in URLs: "sam", "sam-2"
	Name      string    `json:"name"` // as shown
	TokenHash string    `json:"token_sha256"`
	Joined    time.Time `json:"joined"`
	Seen      time.Time `json:"seen"` // the last result received
	Posts     int       `json:"posts"`
	// Where the learner is, from their newest result: the stage, and its
	// earliest step with a failing check ("" when the stage passes or no
	// check ran), since when.
	Stage     int       `json:"stage"`
	Step      string    `json:"step"`
	StepSince time.Time `json:"step_since"`
}

// Stored is a learner's last result of one stage.
type Stored struct {
	CheckedAt time.Time `json:"checked_at"` // when the check ran, as the learner's CLI said
	Received  time.Time `json:"received"`
	Result    Result    `json:"result"`
}

// db is the class's state on disk: a bbolt file, written through on every
// change so a restarted server shows the same board.
type db struct{ bolt *bolt.DB }

// openDB opens (or creates) the state file in dir. A second server on the
// same folder is refused rather than waited for.
func openDB(dir string) (*db, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("the class's data folder: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use by another class server: stop it, or choose another folder with --data", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketClass, bucketLearners, bucketResults} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("preparing %s: %w", path, err)
	}
	return &db{bolt: b}, nil
}

func (d *db) close() error { return d.bolt.Close() }

func resultKey(id string, stage int) []byte { return []byte(id + "/" + strconv.Itoa(stage)) }

// meta reads the class code and when the class was created; "" when new.
func (d *db) meta() (code string, created time.Time, err error) {
	err = d.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClass)
		code = string(b.Get([]byte("code")))
		if v := b.Get([]byte("created")); v != nil {
			return created.UnmarshalText(v)
		}
		return nil
	})
	return code, created, err
}

func (d *db) setMeta(code string, created time.Time) error {
	t, _ := created.MarshalText()
	return d.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClass)
		return errors.Join(b.Put([]byte("code"), []byte(code)), b.Put([]byte("created"), t))
	})
}

// load reads every learner and their results.
func (d *db) load() (learners []Learner, results map[string]map[int]Stored, err error) {
	results = map[string]map[int]Stored{}
	err = d.bolt.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketLearners).ForEach(func(k, v []byte) error {
			var l Learner
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("learner %q: %w", k, err)
			}
			learners = append(learners, l)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketResults).ForEach(func(k, v []byte) error {
			var s Stored
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("result %q: %w", k, err)
			}
			id := string(k[:max(0, len(k)-2)]) // "id/N"
			if results[id] == nil {
				results[id] = map[int]Stored{}
			}
			results[id][s.Result.Stage] = s
			return nil
		})
	})
	return learners, results, err
}

// write puts learners and their results (by learner id) in one
// transaction.
func (d *db) write(learners []Learner, results map[string][]Stored) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		for _, l := range learners {
			b, err := json.Marshal(l)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketLearners).Put([]byte(l.ID), b); err != nil {
				return err
			}
			for _, r := range results[l.ID] {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketResults).Put(resultKey(l.ID, r.Result.Stage), b); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// remove deletes a learner and their results.
func (d *db) remove(id string) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketLearners).Delete([]byte(id)); err != nil {
			return err
		}
		for n := 1; n <= 9; n++ {
			if err := tx.Bucket(bucketResults).Delete(resultKey(id, n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// reset deletes every learner and result; the class code stays.
func (d *db) reset() error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketLearners, bucketResults} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}
