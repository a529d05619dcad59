import Foundation
import Reports
import Store
import XCTest

/// Export rows as CSV and JSON Lines: quoting, numbers that read back exactly, formulas from
/// untrusted text neutralised, JSON columns embedded, control characters escaped.
final class TableWriterTests: XCTestCase {
    let columns = ["uid", "note", "p", "n", "logits", "missing"]
    let row: [ExportValue] = [.text("1.2.3"), .text("=HYPERLINK(\"x\"), \"quoted\"\nline"), .real(0.1 + 0.2), .integer(-3),
                              .json("[0.5,-1.25]"), .null]

    func testCSVQuotesNeutralisesFormulasAndKeepsNumbersExact() {
        let w = TableWriter(format: .csv, columns: columns)
        XCTAssertEqual(w.header, "uid,note,p,n,logits,missing\r\n")
        XCTAssertEqual(w.line(row), "1.2.3,\"'=HYPERLINK(\"\"x\"\"), \"\"quoted\"\"\nline\",0.30000000000000004,-3,\"[0.5,-1.25]\",\r\n")
        XCTAssertEqual(w.line([.text("-1"), .text("@SUM"), .real(2), .integer(0), .text(" padded"), .text("+x")]),
                       "'-1,'@SUM,2,0,\" padded\",'+x\r\n", "text that starts a formula gets a quote; numbers never do")
    }

    func testJSONLinesEmbedJSONAndEscapeText() throws {
        let w = TableWriter(format: .jsonl, columns: columns)
        XCTAssertNil(w.header)
        let line = w.line(row)
        XCTAssertTrue(line.hasSuffix("}\n"))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual(object["note"] as? String, "=HYPERLINK(\"x\"), \"quoted\"\nline", "JSON keeps the text as it is")
        XCTAssertTrue(line.contains("\"p\":0.30000000000000004,"), "the shortest text that reads back exactly: \(line)")
        XCTAssertEqual(Double("0.30000000000000004"), 0.1 + 0.2)
        XCTAssertEqual(object["n"] as? Int, -3)
        XCTAssertEqual(object["logits"] as? [Double], [0.5, -1.25])
        XCTAssertTrue(object["missing"] is NSNull)
        XCTAssertEqual(line.components(separatedBy: "\n").count, 2, "one line per row")
        XCTAssertTrue(w.line([.text("a\u{1B}[2Jb"), .null, .real(.nan), .null, .json("not json"), .null]).contains("\"a\\u001b[2Jb\""))
        let odd = try JSONSerialization.jsonObject(with: Data(w.line([.null, .null, .real(.infinity), .null, .json("{oops"), .null]).utf8)) as! [String: Any]
        XCTAssertTrue(odd["p"] is NSNull, "non-finite numbers are null")
        XCTAssertEqual(odd["logits"] as? String, "{oops", "a broken JSON column is kept as text")
    }
}
