package class

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// The instructor's actions: remove a row, reset the class. They need the
// --admin secret, sent as "Authorization: Bearer SECRET" (scripts, tests)
// or typed once into the admin page, which then keeps a cookie signed with
// a key that changes at every start of the server.

const adminCookie = "class_admin"

func (s *Server) sign(what string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(what))
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) secretMatches(secret string) bool {
	if s.admin == nil {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], s.admin) == 1
}

// adminAuth reports whether r comes from the instructor, and whether by
// its header (no cross-site form can set that one).
func (s *Server) adminAuth(r *http.Request) (ok, byHeader bool) {
	if s.admin == nil {
		return false, false
	}
	if secret, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		return s.secretMatches(secret), true
	}
	c, err := r.Cookie(adminCookie)
	return err == nil && hmac.Equal([]byte(c.Value), []byte(s.sign("admin"))), false
}

// adminAction checks an action's authorization: a header, or the cookie
// with the form's anti-forgery token.
func (s *Server) adminAction(w http.ResponseWriter, r *http.Request) bool {
	ok, byHeader := s.adminAuth(r)
	if ok && !byHeader {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		ok = hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.sign("csrf")))
	}
	if !ok {
		msg := "only the instructor can do this (the --admin secret)"
		if s.admin == nil {
			msg = "admin actions are off: start the class server with --admin SECRET"
		}
		writeError(w, http.StatusForbidden, msg)
	}
	return ok
}

// answered answers an action: JSON to a script, back to the admin page for a
// form.
func (s *Server) answered(w http.ResponseWriter, r *http.Request, v any) {
	if _, byHeader := s.adminAuth(r); byHeader {
		writeJSON(w, http.StatusOK, v)
		return
	}
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

type adminView struct {
	Enabled   bool
	Wrong     bool
	BoardData boardData
	CSRF      string
	Join      string // the join command
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) {
	v := adminView{Enabled: s.admin != nil}
	if ok, _ := s.adminAuth(r); !ok {
		s.render(w, r, http.StatusOK, "admin", page{Heading: "Instructor", Nav: "admin", Data: v})
		return
	}
	v.CSRF = s.sign("csrf")
	v.BoardData = boardData{Board: s.board(r.URL.Query().Get("sort"), r.URL.Query().Get("step")), Admin: true, CSRF: v.CSRF}
	if r.URL.Query().Get("fragment") == "1" {
		s.render(w, r, http.StatusOK, "fragment", page{Data: v.BoardData})
		return
	}
	v.Join = JoinCommand(s.publicURL(r), s.code)
	s.render(w, r, http.StatusOK, "admin", page{Heading: "Instructor", Nav: "admin", Data: v, Admin: true, Live: true})
}

func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	addr := remoteAddr(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if s.admin == nil || !s.joinFails.ok(addr) || !s.secretMatches(r.PostFormValue("secret")) {
		if s.admin != nil {
			s.joinFails.fail(addr)
		}
		s.render(w, r, http.StatusForbidden, "admin", page{Heading: "Instructor", Nav: "admin",
			Data: adminView{Enabled: s.admin != nil, Wrong: true}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: s.sign("admin"), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (s *Server) adminRemove(w http.ResponseWriter, r *http.Request) {
	if !s.adminAction(w, r) {
		return
	}
	id := r.PathValue("id")
	s.dbMu.Lock() // no write of this learner is under way, nor starts
	defer s.dbMu.Unlock()
	s.mu.Lock()
	m, ok := s.learners[id]
	if ok {
		delete(s.learners, id)
		delete(s.byToken, m.TokenHash)
		delete(s.dirty, id)
		s.notifyLocked()
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no learner "+id+" in this class")
		return
	}
	if err := s.db.remove(id); err != nil {
		writeError(w, http.StatusInternalServerError, "saving the class: "+err.Error())
		return
	}
	s.answered(w, r, map[string]string{"removed": id})
}

func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	if !s.adminAction(w, r) {
		return
	}
	if _, byHeader := s.adminAuth(r); !byHeader && r.PostFormValue("confirm") != "reset" {
		writeError(w, http.StatusBadRequest, "type reset in the box to confirm: every row and result goes")
		return
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.mu.Lock()
	n := len(s.learners)
	clear(s.learners)
	clear(s.byToken)
	clear(s.dirty)
	s.notifyLocked()
	s.mu.Unlock()
	if err := s.db.reset(); err != nil {
		writeError(w, http.StatusInternalServerError, "resetting the class: "+err.Error())
		return
	}
	s.answered(w, r, map[string]int{"removed": n})
}

// JoinCommand is what a learner types to join the class at url.
func JoinCommand(url, code string) string {
	return "workshop class join " + url + " " + code + ` --name "Your Name"`
}
