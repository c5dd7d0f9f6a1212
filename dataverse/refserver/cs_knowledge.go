package refserver

// Knowledge articles, following "Work with knowledge articles"
// (learn.microsoft.com/dynamics365/customerengagement/on-premises/developer/work-knowledge-articles,
// cited as [KA]) and the knowledgearticle table reference.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

const (
	articleDraft     = 0
	articleScheduled = 2
	articlePublished = 3
	articleExpired   = 4
	articleArchived  = 5
)

// csArticleCreate: [KA] "When you create a knowledge article record,
// Dynamics 365 internally creates a root article for the record. The root
// article acts as a container for the primary knowledge article ... along
// with all the article versions and translations", and ArticlePublicNumber
// "remains the same across knowledge article versions and translations".
func (s *Server) csArticleCreate(tx *writeTx, t *schema.Table, v row) error {
	if tx.importing || boolOf(v["isrootarticle"], false) || historical(v) {
		return nil
	}
	if root := idOf(v["rootarticleid"]); root != "" {
		r, err := tx.get(t, root)
		if err != nil {
			return err
		}
		if r == nil {
			return recordNotFound("knowledgearticle", root)
		}
		if n := asString(nilEmpty(r["articlepublicnumber"])); n != "" {
			v["articlepublicnumber"] = n
		}
	} else {
		rootID := uuid.NewString()
		rv := row{"isrootarticle": true, "islatestversion": false}
		for _, c := range []string{"title", "articlepublicnumber", "languagelocaleid", "subjectid", "majorversionnumber", "minorversionnumber", "ownerid"} {
			if v[c] != nil {
				rv[c] = v[c]
			}
		}
		if _, err := s.createRecord(tx, t, &payload{values: rv}, rootID); err != nil {
			return err
		}
		v["rootarticleid"] = lookupValue{ID: rootID, Target: "knowledgearticle"}
		v["islatestversion"] = true
	}
	if st := intOf(v["statecode"]); st != articleDraft {
		return s.csArticleState(tx, t, -1, v, v)
	}
	return nil
}

func (s *Server) csArticleUpdate(tx *writeTx, t *schema.Table, old, changes row) error {
	if _, ok := changes["statecode"]; !ok || boolOf(old["isrootarticle"], false) {
		return nil
	}
	return s.csArticleState(tx, t, intOf(old["statecode"]), changes, merged(old, changes))
}

// csArticleState applies the publishing rules to a state change ([KA]
// "Knowledge article lifecycle"):
//
//   - publishing with a publish-on date in the future schedules the article
//     (Scheduled); the clock publishes it when the date comes (csSweepArticles);
//   - only one version per root article and language is published.
//
// Decision: publishing a version archives the version of the same root
// and language that was published before (as the reference seed shows
// version 1.0 archived beside the published 2.0); a published article
// without publishon gets the time it was published.
func (s *Server) csArticleState(tx *writeTx, t *schema.Table, from int64, changes, m row) error {
	to := intOf(m["statecode"])
	if to == from {
		return nil
	}
	setState := func(state, status int64) {
		changes["statecode"], changes["statuscode"] = state, status
		m["statecode"], m["statuscode"] = state, status
	}
	switch to {
	case articleScheduled, articlePublished:
		publishOn := timeOf(m["publishon"])
		if publishOn.After(tx.now) {
			setState(articleScheduled, 6)
			return nil
		}
		if to == articleScheduled {
			setState(articlePublished, 7)
		}
		if m["publishon"] == nil {
			changes["publishon"] = tx.now.Format(dateTimeLayout)
		}
		return s.csArchiveOtherPublished(tx, t, m)
	}
	return nil
}

func (s *Server) csArchiveOtherPublished(tx *writeTx, t *schema.Table, m row) error {
	root := idOf(m["rootarticleid"])
	if root == "" {
		return nil
	}
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, "languagelocaleid"},
		`"rootarticleid" = ? AND "statecode" = 3 AND `+quoteIdent(t.PrimaryID)+` <> ?`, []any{root, asString(m[t.PrimaryID])}, "", 0)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if !strings.EqualFold(idOf(r["languagelocaleid"]), idOf(m["languagelocaleid"])) {
			continue
		}
		if err := s.csUpdate(tx, t, asString(r[t.PrimaryID]), row{"statecode": int64(articleArchived), "statuscode": int64(12)}); err != nil {
			return err
		}
	}
	return nil
}

// csSweepArticles publishes scheduled articles whose publish-on time has
// come and expires published ones past their expiration date ([KA]:
// "4: Expired (after a knowledge article is expired as per the expiration
// date specified while publishing)").
func (s *Server) csSweepArticles(tx *writeTx) error {
	t := s.table("knowledgearticle")
	if t == nil {
		return nil
	}
	now := tx.now.Format(dateTimeLayout)
	due, err := s.store.selectRows(tx.ctx, tx.q, t, nil, `"statecode" = 2 AND "publishon" <= ?`, []any{now}, `"publishon"`, 0)
	if err != nil {
		return err
	}
	for _, r := range due {
		ch := row{"statecode": int64(articlePublished), "statuscode": int64(7)}
		if err := s.csArchiveOtherPublished(tx, t, r); err != nil {
			return err
		}
		if err := s.csUpdate(tx, t, asString(r[t.PrimaryID]), ch); err != nil {
			return err
		}
	}
	expired, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, colVersion}, `"statecode" = 3 AND "expirationdate" IS NOT NULL AND "expirationdate" <= ?`, []any{now}, "", 0)
	if err != nil {
		return err
	}
	for _, r := range expired {
		if err := s.csUpdate(tx, t, asString(r[t.PrimaryID]), row{"statecode": int64(articleExpired), "statuscode": int64(10)}); err != nil {
			return err
		}
	}
	return nil
}

// articleActionRequest is the body of CreateKnowledgeArticleVersion and
// CreateKnowledgeArticleTranslation: Source (a knowledgearticle
// reference), IsMajor, and for translations Language (a languagelocale
// reference) (webapi/reference/createknowledgearticleversion,
// createknowledgearticletranslation).
type articleActionRequest struct {
	Source   map[string]any `json:"Source"`
	Language map[string]any `json:"Language"`
	IsMajor  *bool          `json:"IsMajor"`
}

func refID(ref map[string]any, pk string) string {
	if ref == nil {
		return ""
	}
	if id, ok := ref[pk].(string); ok {
		return id
	}
	if id, ok := ref["@odata.id"].(string); ok {
		if i := strings.LastIndexByte(id, '('); i >= 0 && strings.HasSuffix(id, ")") {
			return id[i+1 : len(id)-1]
		}
	}
	return ""
}

func (s *Server) readArticleAction(r *http.Request, action string, needLanguage bool) (*articleActionRequest, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var req articleActionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || refID(req.Source, "knowledgearticleid") == "" || req.IsMajor == nil || (needLanguage && refID(req.Language, "languagelocaleid") == "") {
		params := "Source and IsMajor"
		if needLanguage {
			params = "Source, Language and IsMajor"
		}
		return nil, badRequest(codeBadProperty, "%s requires the parameters %s.", action, params)
	}
	return &req, nil
}

// createKnowledgeArticleVersion: [KA] "Use the CreateKnowledgeArticleVersion
// message ... set IsMajor to true to create a major version; set it to
// false to create a minor version. The new version record ... uses the
// RootArticleId attribute to maintain the association with the root
// knowledge article record [and] PreviousArticleContentId to point to the
// previous version".
//
// Decisions: the new version numbers follow the highest version of the
// root in that language (major+1.0, or major.minor+1); the new draft is
// the latest version (islatestversion) and the others of that root and
// language stop being latest; the response is the new record.
func (s *Server) createKnowledgeArticleVersion(w http.ResponseWriter, r *http.Request) {
	req, err := s.readArticleAction(r, "CreateKnowledgeArticleVersion", false)
	if err != nil {
		writeError(w, err)
		return
	}
	s.newArticleVersion(w, r, refID(req.Source, "knowledgearticleid"), "", *req.IsMajor)
}

// createKnowledgeArticleTranslation: [KA] "creates a new knowledge article
// record with the title, content, description and keywords copied from
// the source record to the new record, and the language of the new record
// set to the one you specified ... The new record uses the
// ParentArticleContentId attribute to maintain the association with the
// primary knowledge article record."
//
// Decision: the first translation in a language takes the source's version
// numbers; later ones number like CreateKnowledgeArticleVersion.
func (s *Server) createKnowledgeArticleTranslation(w http.ResponseWriter, r *http.Request) {
	req, err := s.readArticleAction(r, "CreateKnowledgeArticleTranslation", true)
	if err != nil {
		writeError(w, err)
		return
	}
	s.newArticleVersion(w, r, refID(req.Source, "knowledgearticleid"), refID(req.Language, "languagelocaleid"), *req.IsMajor)
}

func (s *Server) newArticleVersion(w http.ResponseWriter, r *http.Request, sourceID, language string, major bool) {
	t := s.table("knowledgearticle")
	newID := uuid.NewString()
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		src, err := tx.get(t, sourceID)
		if err != nil {
			return err
		}
		if src == nil {
			return recordNotFound("knowledgearticle", sourceID)
		}
		if boolOf(src["isrootarticle"], false) {
			return badRequest(codeInvalidArgument, "A root article is a container; create versions and translations from one of its articles.")
		}
		root := idOf(src["rootarticleid"])
		if root == "" {
			root = sourceID
		}
		lang := idOf(src["languagelocaleid"])
		if language != "" {
			if lt := s.table("languagelocale"); lt != nil {
				l, err := tx.get(lt, language)
				if err != nil {
					return err
				}
				if l == nil {
					return recordNotFound("languagelocale", language)
				}
			}
			lang = language
		}
		siblings, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, "languagelocaleid", "majorversionnumber", "minorversionnumber", "islatestversion"},
			`"rootarticleid" = ? AND ("isrootarticle" = 0 OR "isrootarticle" IS NULL)`, []any{root}, "", 0)
		if err != nil {
			return err
		}
		maj, mnr, found := intOf(src["majorversionnumber"]), intOf(src["minorversionnumber"]), false
		for _, sb := range siblings {
			if !strings.EqualFold(idOf(sb["languagelocaleid"]), lang) {
				continue
			}
			a, b := intOf(sb["majorversionnumber"]), intOf(sb["minorversionnumber"])
			if !found || a > maj || (a == maj && b > mnr) {
				maj, mnr = a, b
			}
			found = true
		}
		switch {
		case language != "" && !found:
			// first translation: the source's numbers
		case major:
			maj, mnr = maj+1, 0
		default:
			mnr++
		}
		for _, sb := range siblings {
			if strings.EqualFold(idOf(sb["languagelocaleid"]), lang) && boolOf(sb["islatestversion"], false) {
				if err := s.csUpdate(tx, t, asString(sb[t.PrimaryID]), row{"islatestversion": false}); err != nil {
					return err
				}
			}
		}
		v := row{
			"rootarticleid":      lookupValue{ID: root, Target: "knowledgearticle"},
			"languagelocaleid":   lookupValue{ID: lang, Target: "languagelocale"},
			"majorversionnumber": maj, "minorversionnumber": mnr,
			"isrootarticle": false, "islatestversion": true,
			"statecode": int64(articleDraft), "statuscode": int64(2),
		}
		for _, c := range []string{"title", "content", "description", "keywords", "articlepublicnumber", "subjectid", "isinternal", "ownerid"} {
			if src[c] != nil {
				v[c] = src[c]
			}
		}
		if language != "" {
			v["parentarticlecontentid"] = lookupValue{ID: sourceID, Target: "knowledgearticle"}
		} else {
			v["previousarticlecontentid"] = lookupValue{ID: sourceID, Target: "knowledgearticle"}
			if p := src["parentarticlecontentid"]; p != nil {
				v["parentarticlecontentid"] = p
			}
		}
		_, err = s.createRecord(tx, t, &payload{values: v}, newID)
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeActionRecord(w, r, t, newID, "", "")
}
