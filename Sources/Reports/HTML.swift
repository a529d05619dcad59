/// HTML building with escaping by default: every value that came from a DICOM file, a card or a
/// path goes through `escape`; markup is only ever written by this module's own code.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A relative URL path segment: percent-encodes everything but unreserved characters.
    static func urlSegment(_ text: String) -> String {
        text.utf8.map { b -> String in
            let c = Character(UnicodeScalar(b))
            return (c.isASCII && (c.isLetter || c.isNumber)) || "-._~".contains(c) ? String(c) : String(format: "%%%02X", b)
        }.joined()
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
        h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:24px 0 8px} .muted{color:#667085}
        table{border-collapse:collapse;background:#fff;margin:8px 0} th,td{border:1px solid #d0d5dd;padding:6px 10px;text-align:left;font-size:14px}
        th{background:#f2f4f7;cursor:pointer} .warn{background:#fff4e5;border:1px solid #f79009;padding:10px 14px;margin:12px 0}
        .grid{display:flex;flex-wrap:wrap;gap:16px} .card{background:#fff;border:1px solid #d0d5dd;padding:12px;width:340px}
        .card img{max-width:100%;display:block;margin-bottom:8px} .pos{color:#b42318;font-weight:600} .neg{color:#067647;font-weight:600}
        code{font-size:12px;word-break:break-all} figure.heatmap{margin:0 0 10px} figcaption{font-size:13px;color:#344054}
        </style></head><body>
        \(body)
        </body></html>
        """
    }

    /// Makes every table with class "sortable" sort by a clicked column (numbers numerically).
    static let sortScript = """
        <script>
        document.querySelectorAll('table.sortable th').forEach(function (th, col) {
          th.addEventListener('click', function () {
            var table = th.closest('table'), body = table.tBodies[0];
            var rows = Array.prototype.slice.call(body.rows);
            var asc = th.dataset.order !== 'asc'; th.dataset.order = asc ? 'asc' : 'desc';
            rows.sort(function (a, b) {
              var x = a.cells[col].dataset.sort || a.cells[col].textContent, y = b.cells[col].dataset.sort || b.cells[col].textContent;
              var nx = parseFloat(x), ny = parseFloat(y);
              var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
              return asc ? r : -r;
            });
            rows.forEach(function (r) { body.appendChild(r); });
          });
        });
        </script>
        """
}
