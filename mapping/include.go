package mapping

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/tandem-sync/tandem/internal/config"
)

// MappingFile is what an included file may hold: the mapping language
// only. Systems named in it must be defined in the main file.
type MappingFile struct {
	Entities map[string]*EntityDef `yaml:"entities"`
	Systems  map[string]*struct {
		Entities map[string]*EntityMapping `yaml:"entities"`
	} `yaml:"systems"`
	Flows     []Flow                `yaml:"flows"`
	Ownership map[string]*Ownership `yaml:"ownership"`
}

var flowIndexRE = regexp.MustCompile(`^flows\[(\d+)\]`)

// include reads the files listed under include, relative to the main
// file, and merges their mapping into c. Each file's keys keep their own
// file and line in c.Index. A name defined twice is a problem at the
// second place, naming the first.
func (c *Config) include(file string, env config.Env) config.Problems {
	var ps config.Problems
	if len(c.Include) == 0 {
		return nil
	}
	if env.ReadFile == nil {
		ps.Add("include", "included files cannot be read here")
		return ps
	}
	for i, inc := range c.Include {
		path := inc
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), inc)
		}
		src, err := env.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named already
			}
			ps.Add(fmt.Sprintf("include[%d]", i), fmt.Sprintf("cannot read %s: %v", inc, err))
			continue
		}
		var mf MappingFile
		idx, err := config.Decode(path, src, env, &mf)
		var decodeProblems config.Problems
		if err != nil && !errors.As(err, &decodeProblems) {
			ps.Add(fmt.Sprintf("include[%d]", i), err.Error())
			continue
		}
		ps = append(ps, decodeProblems...) // located in the included file already
		shift := len(c.Flows)
		c.Index.Graft(idx, func(p string) string {
			if m := flowIndexRE.FindStringSubmatch(p); m != nil {
				n, _ := strconv.Atoi(m[1])
				return fmt.Sprintf("flows[%d]", n+shift) + p[len(m[0]):]
			}
			return p
		})
		ps = append(ps, c.merge(&mf, path, idx)...)
	}
	return ps
}

// merge adds an included file's mapping to c.
func (c *Config) merge(mf *MappingFile, path string, idx *config.Index) config.Problems {
	var ps config.Problems
	twice := func(key string) {
		file, line := c.Index.Where(key)
		l2 := idx.Line(key)
		ps = append(ps, config.Problem{File: path, Line: l2, Path: key,
			Msg: fmt.Sprintf("defined twice: also at %s:%d", file, line)})
	}
	c.Entities = mergeNamed(c.Entities, mf.Entities, "entities.", twice)
	for sys, s := range mf.Systems {
		target := c.Systems[sys]
		if target == nil {
			ps = append(ps, config.Problem{File: path, Line: idx.Line("systems." + sys), Path: "systems." + sys,
				Msg: fmt.Sprintf("unknown system %q: define it (kind, dsn) in the main file", sys)})
			continue
		}
		if s == nil {
			continue
		}
		target.Entities = mergeNamed(target.Entities, s.Entities, "systems."+sys+".entities.", twice)
	}
	c.Flows = append(c.Flows, mf.Flows...)
	c.Ownership = mergeNamed(c.Ownership, mf.Ownership, "ownership.", twice)
	return ps
}

// mergeNamed adds the entries of more to dst (made if nil), reporting a
// name dst has already through twice(prefix+name).
func mergeNamed[V any](dst, more map[string]V, prefix string, twice func(string)) map[string]V {
	if dst == nil && len(more) > 0 {
		dst = map[string]V{}
	}
	for name, v := range more {
		if _, dup := dst[name]; dup {
			twice(prefix + name)
			continue
		}
		dst[name] = v
	}
	return dst
}
