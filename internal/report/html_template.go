package report

// pageTemplate is index.html. Everything it shows comes through
// html/template, which escapes it for where it stands; only the charts
// (drawn and escaped by package chart) and the inline markup of the
// document's own text go in as trusted HTML.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #d9dce1; --head: #f1f4f8; --paper: #fbf6ea; --paper-ink: #6b5520; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
.kicker { margin: 0; color: var(--muted); font-size: .85rem; letter-spacing: .04em; text-transform: uppercase; }
h1 { margin: .2rem 0 1rem; font-size: 1.75rem; line-height: 1.25; }
h2 { margin: 2.75rem 0 .8rem; padding-bottom: .3rem; border-bottom: 1px solid var(--rule); font-size: 1.35rem; }
h3 { margin: 1.8rem 0 .5rem; font-size: 1.05rem; }
p, li, figcaption { max-width: 50rem; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1.1rem; margin: 0 0 1.5rem; padding: 0; list-style: none; font-size: .9rem; }
a { color: #0b57a8; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .87em; }
code { padding: .05em .3em; border-radius: 3px; background: #f2f3f5; }
pre { overflow-x: auto; padding: .8rem 1rem; border-radius: 4px; background: #f6f7f9; line-height: 1.35; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .65rem; border: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { background: var(--head); font-weight: 600; }
th.paper, td.paper { background: var(--paper); color: var(--paper-ink); font-style: italic; }
.files { color: var(--muted); font-size: .9rem; }
.glance { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1rem; margin: 1.5rem 0; }
.card { padding: .9rem 1.1rem; border: 1px solid var(--rule); border-radius: 6px; }
.card h3 { margin: 0; font-size: 1.15rem; }
.card .counterpart { margin: 0 0 .6rem; color: var(--muted); font-size: .85rem; }
.card dl { display: grid; grid-template-columns: auto auto; gap: .25rem 1rem; margin: 0; font-size: .92rem; }
.card dt { color: var(--muted); }
.card dd { margin: 0; text-align: right; font-weight: 600; font-variant-numeric: tabular-nums; }
figure { margin: 1.75rem 0; }
figure svg { display: block; width: 100%; max-width: 48rem; height: auto; }
figcaption { margin-top: .4rem; color: var(--muted); font-size: .9rem; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } figure, .card { break-inside: avoid; } }
</style>
</head>
<body>
<main>
<p class="kicker">EDA testbed · {{.Kicker}}</p>
<h1>{{.Title}}</h1>
{{with .Contents}}<nav aria-label="Contents"><ul>
{{range .}}<li><a href="{{.Href}}">{{.Text}}</a></li>
{{end}}</ul></nav>
{{end}}
{{- range .Blocks}}
{{- if eq .Kind "heading"}}
{{if eq .Level 2}}<h2 id="{{.ID}}">{{.Text}}</h2>{{else}}<h3 id="{{.ID}}">{{.Text}}</h3>{{end}}
{{- else if eq .Kind "para"}}
<p>{{.Inline}}</p>
{{- else if eq .Kind "list"}}
<ul>
{{range .Items}}<li>{{.}}</li>
{{end}}</ul>
{{- else if eq .Kind "ordered"}}
<ol>
{{range .Items}}<li>{{.}}</li>
{{end}}</ol>
{{- else if eq .Kind "table"}}
<div class="table"><table>
<thead><tr>{{range .Table.Head}}<th{{if .Paper}} class="paper"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
<tbody>
{{range .Table.Rows}}<tr>{{range .}}<td{{if .Paper}} class="paper"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
{{- else if eq .Kind "pre"}}
<pre>{{.Text}}</pre>
{{- else if eq .Kind "files"}}
<p class="files">Files of this bundle: {{range $i, $l := .Links}}{{if $i}} · {{end}}<a href="{{$l.Href}}">{{$l.Text}}</a>{{end}}</p>
{{- else if eq .Kind "links"}}
<ul class="links">
{{range .Links}}<li><a href="{{.Href}}">{{.Text}}</a></li>
{{end}}</ul>
{{- else if eq .Kind "glance"}}
<section class="glance" aria-label="At a glance">
{{range .Cards}}<div class="card">
<h3>{{.Name}}</h3>
<p class="counterpart">{{with .Paper}}stands for {{.}}{{else}}no counterpart in the paper{{end}}</p>
<dl>
{{range .Figures}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
</div>
{{end}}</section>
{{- else if eq .Kind "chart"}}
<figure id="chart-{{.Chart.Name}}">
{{.Chart.SVG}}<figcaption>{{.Chart.Caption}} <a href="{{.Chart.File}}">{{.Chart.File}}</a></figcaption>
</figure>
{{- end}}
{{- end}}
</main>
</body>
</html>
`
