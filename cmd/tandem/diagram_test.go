package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// diagramTestConfig maps an entity of its own both ways: email from the
// shop (with an EAV meta table), status from the ERP, phone from both.
const diagramTestConfig = `systems:
  shop:
    kind: mysql
    dsn: u:p@tcp(127.0.0.1:1)/shop
    capture: {server_id: 9}
    entities:
      member:
        table: shop.wp_users
        id: ID
        fields: {email: user_email}
        meta:
          - {table: shop.wp_usermeta, owner: user_id, key: meta_key, value: meta_value, fields: {phone: billing_phone, status: _status}}
  erp:
    kind: postgres
    dsn: postgres://u:p@127.0.0.1:1/erp
    entities:
      member:
        table: public.res_partner
        id: id
        fields: {email: email, phone: phone, status: state}
entities:
  member:
    key: [email]
    fields:
      email: {type: string, required: true}
      phone: {type: string}
      status: {type: string}
ownership:
  member: {owner: shop, fields: {status: erp}, both: [phone]}
flows:
  - {entity: member, from: shop, to: erp}
  - {entity: member, from: erp, to: shop}
kafka: {brokers: ["127.0.0.1:1"]}
schema_registry: {url: "http://127.0.0.1:1/apis/ccompat/v7"}
`

func TestDiagramCmd(t *testing.T) {
	cfg := tempConfig(t, diagramTestConfig)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--format", "mermaid"}, []string{
			"flowchart LR",
			`subgraph sys_shop["shop (mysql)"]`,
			`t_shop_shop_wp_usermeta -->|"phone (both)"| e_member`,
			`e_member ==>|"from tandem.erp.member<br/>phone (both), status"| t_shop_shop_wp_usermeta`,
		}},
		{nil, []string{"flowchart LR"}}, // mermaid is the default
		{[]string{"--format", "dot"}, []string{
			"digraph tandem {",
			`label="erp (postgres)";`,
			`t_erp_public_res_partner -> e_member:p_erp:w [label="phone (both), status"`,
			`e_member:p_shop:e -> t_shop_shop_wp_users [dir=back, label="email"`,
		}},
	}
	for _, tt := range tests {
		args := append([]string{"diagram", "--config", cfg}, tt.args...)
		out, code := run(t, args...)
		if code != 0 {
			t.Fatalf("tandem %s: exit %d: %s", strings.Join(args, " "), code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("tandem %s: output lacks %q:\n%s", strings.Join(args[3:], " "), w, out)
			}
		}
	}
}

func TestDiagramCmdOutputFile(t *testing.T) {
	cfg := tempConfig(t, diagramTestConfig)
	path := filepath.Join(t.TempDir(), "flow.gv")
	out, code := run(t, "diagram", "--config", cfg, "--output", path)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "// tandem data flow") || !strings.Contains(string(b), "digraph tandem {") {
		t.Errorf("a .gv file without --format is not DOT:\n%s", b)
	}
	_, code = run(t, "diagram", "--config", cfg, "--output", filepath.Join(t.TempDir(), "no", "such", "dir.dot"))
	if code != exitFailed {
		t.Errorf("writing into a missing directory: exit %d, want %d", code, exitFailed)
	}
}

// TestDiagramCmdSVG renders with Graphviz when it is installed, and
// otherwise reports how to install it.
func TestDiagramCmdSVG(t *testing.T) {
	cfg := tempConfig(t, diagramTestConfig)
	out, code := run(t, "diagram", "--config", cfg, "--format", "svg")
	if _, err := exec.LookPath("dot"); err == nil {
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if !strings.HasPrefix(out, "<?xml") && !strings.Contains(out, "<svg") {
			t.Fatalf("not SVG:\n%.300s", out)
		}
		for _, w := range []string{"tandem.shop.member", "shop (mysql)", "phone (both)"} {
			if !strings.Contains(out, w) {
				t.Errorf("SVG lacks %q", w)
			}
		}
	} else {
		t.Logf("Graphviz is not installed: checking the message instead")
		if code != exitFailed || !strings.Contains(out, "install Graphviz: apt-get install graphviz") {
			t.Fatalf("exit %d, want 1 and how to install Graphviz: %s", code, out)
		}
	}
}

// TestDiagramCmdSVGWithoutGraphviz checks the message when dot is missing,
// whether or not this machine has it.
func TestDiagramCmdSVGWithoutGraphviz(t *testing.T) {
	saved := dotProgram
	dotProgram = "tandem-test-no-such-dot"
	t.Cleanup(func() { dotProgram = saved })
	out, code := run(t, "diagram", "--config", tempConfig(t, diagramTestConfig), "--output", filepath.Join(t.TempDir(), "flow.svg"))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitFailed, out)
	}
	for _, w := range []string{`Graphviz's "tandem-test-no-such-dot" program is not on PATH`, "install Graphviz: apt-get install graphviz"} {
		if !strings.Contains(out, w) {
			t.Errorf("message lacks %q: %s", w, out)
		}
	}
}

func TestDiagramCmdUsage(t *testing.T) {
	cfg := tempConfig(t, diagramTestConfig)
	for _, args := range [][]string{
		{"diagram", "--config", cfg, "--format", "png"},
		{"diagram", "--config", cfg, "--no-such-flag"},
		{"diagram", "--config", cfg, "extra"},
		{"diagram", "--config", "/nonexistent/tandem.yaml"},
	} {
		if out, code := run(t, args...); code != exitBadUsage {
			t.Errorf("tandem %s: exit %d, want %d: %s", strings.Join(args, " "), code, exitBadUsage, out)
		}
	}
	out, _ := run(t, "diagram", "--config", cfg, "--format", "png")
	if !strings.Contains(out, `--format "png" is not one of mermaid, dot, svg`) {
		t.Errorf("bad format message: %s", out)
	}
	out, code := run(t, "diagram", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, w := range []string{"<prefix>.<system>.<entity>", "EAV meta tables", "(both)", "apt-get install graphviz", "--output"} {
		if !strings.Contains(out, w) {
			t.Errorf("diagram --help lacks %q", w)
		}
	}
}
