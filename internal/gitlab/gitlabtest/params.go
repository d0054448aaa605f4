package gitlabtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 1 << 20

// param is one request parameter as Rack would parse it.
type param struct {
	value   string
	array   []string
	isArray bool
	isHash  bool
	// isNull marks a JSON null: the key was sent without a value.
	isNull bool
}

// params are the merged query and body parameters of a request.
type params map[string]param

// parseParams merges query parameters and a JSON, form-encoded or multipart
// body; body values win, as in Grape.
func parseParams(r *http.Request) (params, *apiError) {
	p := params{}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, grapeError("query string is invalid")
	}
	p.addValues(q)
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete && r.ContentLength == 0 {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json" || strings.HasSuffix(ct, "+json"):
		if err := p.addJSON(body); err != nil {
			return nil, grapeError("message body does not match declared format")
		}
	case ct == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))               // already bounded by maxBodyBytes
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil { //nolint:gosec // the body is bounded above
			return nil, grapeError("message body does not match declared format")
		}
		p.addValues(r.MultipartForm.Value)
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, grapeError("message body does not match declared format")
		}
		p.addValues(form)
	}
	return p, nil
}

func (p params) addValues(v url.Values) {
	for k, vals := range v {
		switch {
		case strings.HasSuffix(k, "[]"):
			name := strings.TrimSuffix(k, "[]")
			p[name] = param{array: vals, isArray: true}
		case strings.Contains(k, "["):
			name, _, _ := strings.Cut(k, "[")
			p[name] = param{isHash: true}
		default:
			p[k] = param{value: vals[len(vals)-1]}
		}
	}
}

func (p params) addJSON(body []byte) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			p[k] = param{isNull: true}
		case []any:
			arr := make([]string, 0, len(t))
			for _, e := range t {
				arr = append(arr, fmt.Sprint(e))
			}
			p[k] = param{array: arr, isArray: true}
		case map[string]any:
			p[k] = param{isHash: true}
		default:
			p[k] = param{value: fmt.Sprint(t)}
		}
	}
	return nil
}

// validator collects Grape's validation messages in declaration order.
type validator struct {
	p    params
	errs []string
}

func (v *validator) fail(name, msg string) { v.errs = append(v.errs, name+" "+msg) }

// err returns the joined Grape error, if any.
func (v *validator) err() *apiError {
	if len(v.errs) == 0 {
		return nil
	}
	return grapeError(strings.Join(v.errs, ", "))
}

// scalar returns the raw value of a scalar parameter; ok is false when the
// parameter is absent or was reported invalid.
func (v *validator) scalar(name string, required bool, values []string) (string, bool) {
	pv, present := v.p[name]
	if !present || pv.isNull {
		if required {
			v.fail(name, "is missing")
			if values != nil {
				v.fail(name, "does not have a valid value")
			}
		}
		return "", false
	}
	if pv.isArray || pv.isHash {
		v.fail(name, "is invalid")
		return "", false
	}
	if pv.value == "" && !required {
		// Grape coerces a blank optional value to nil: it is absent.
		return "", false
	}
	return pv.value, true
}

// str validates a String parameter with an optional list of values.
func (v *validator) str(name string, required bool, values ...string) (string, bool) {
	s, ok := v.scalar(name, required, values)
	if !ok {
		return "", false
	}
	if values != nil && !slices.Contains(values, s) {
		v.fail(name, "does not have a valid value")
		return "", false
	}
	return s, true
}

// integer validates an Integer parameter.
func (v *validator) integer(name string, required bool) (int64, bool) {
	s, ok := v.scalar(name, required, nil)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		v.fail(name, "is invalid")
		return 0, false
	}
	return n, true
}

// boolean validates a Grape Boolean parameter.
func (v *validator) boolean(name string, required bool) (bool, bool) {
	s, ok := v.scalar(name, required, nil)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y", "on":
		return true, true
	case "false", "f", "0", "no", "n", "off":
		return false, true
	}
	v.fail(name, "is invalid")
	return false, false
}

// datetime validates a DateTime parameter.
func (v *validator) datetime(name string) (time.Time, bool) {
	s, ok := v.scalar(name, false, nil)
	if !ok {
		return time.Time{}, false
	}
	t, err := parseDateTime(s)
	if err != nil {
		v.fail(name, "is invalid")
		return time.Time{}, false
	}
	return t, true
}

// dateTimeLayouts are the forms of DateTime the fake accepts.
var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
	time.RFC1123,
	time.RFC1123Z,
}

// parseDateTime parses the ISO 8601 forms Ruby's DateTime.parse accepts most
// often; times without a zone are UTC.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date time %q", s)
}

// rubyDateTime renders a DateTime as Ruby's DateTime#to_s, which is what
// GitLab writes back into Link headers.
func rubyDateTime(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

// leadingInt mimics Ruby's String#to_i: the leading digits, else 0.
func leadingInt(s string) int64 {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
