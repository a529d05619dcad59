import Evaluation
import Foundation
import XCTest

/// CSV files as spreadsheets save them are read; broken ones are refused naming the file, the line
/// and the reason.
final class CSVTableTests: XCTestCase {
    func table(_ bytes: [UInt8]) throws -> CSVTable { try CSVTable(data: Data(bytes), file: "in.csv") }
    func table(_ text: String) throws -> CSVTable { try table(Array(text.utf8)) }

    func testExcelUTF8WithByteOrderMarkAndCRLF() throws {
        let t = try table([0xEF, 0xBB, 0xBF] + Array("score,label\r\n0.25,1\r\n0.75,0\r\n".utf8))
        XCTAssertEqual(t.header, ["score", "label"])
        XCTAssertEqual(t.rows, [["0.25", "1"], ["0.75", "0"]])
        XCTAssertEqual(t.lines, [2, 3])
    }

    func testQuotedFieldsHoldDelimitersQuotesAndLineBreaks() throws {
        let t = try table("id,note,score\n1,\"a, b\",0.5\n2,\"say \"\"hi\"\"\nnext line\",0.25\n3, plain ,\"0.125\"\n")
        XCTAssertEqual(t.rows[0], ["1", "a, b", "0.5"])
        XCTAssertEqual(t.rows[1], ["2", "say \"hi\"\nnext line", "0.25"])
        XCTAssertEqual(t.rows[2], ["3", "plain", "0.125"], "unquoted fields trimmed")
        XCTAssertEqual(t.lines, [2, 3, 5], "a row's line counts the line breaks inside quotes before it")
    }

    func testSemicolonsWithDecimalCommasAndTabs() throws {
        let semi = try table("score;label;site\n0,25;1;\"a;b\"\n0.5;0;c\n")
        XCTAssertEqual(semi.delimiter, ";")
        XCTAssertEqual(semi.rows[0], ["0,25", "1", "a;b"])
        XCTAssertEqual(semi.number("0,25"), 0.25)
        XCTAssertEqual(semi.number("0.5"), 0.5)
        let tab = try table("score\tlabel\n0.5\t1\n")
        XCTAssertEqual(tab.delimiter, "\t")
        XCTAssertEqual(tab.rows, [["0.5", "1"]])
        XCTAssertNil(try table("a,b\n1,2\n").number("0,25"), "no decimal comma in a comma-delimited file")
        // A header quoting a delimiter of another kind does not fool the sniffing.
        XCTAssertEqual(try table("\"a,b\";c;d\n1;2;3\n").header, ["a,b", "c", "d"])
    }

    func testUTF16FromExcelUnicodeTextAndOldMacLineEnds() throws {
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "score\tlabel\r\n0.5\t1\r\n".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        XCTAssertEqual(try table(utf16).rows, [["0.5", "1"]])
        XCTAssertEqual(try table("a,b\r1,2\r3,4\r").rows, [["1", "2"], ["3", "4"]])
    }

    func testBlankLinesEmptyRowsAndTrailingDelimitersAreSkipped() throws {
        let t = try table("\n\na,b,\n1,2,\n,,\n\n3,4\n")
        XCTAssertEqual(t.header, ["a", "b", ""])
        XCTAssertEqual(t.rows, [["1", "2", ""], ["3", "4", ""]])
        XCTAssertEqual(t.lines, [4, 7])
        XCTAssertEqual(try table("a,b\n1\n").rows, [["1", ""]], "short rows padded")
    }

    func testBrokenFilesAreRefusedWithFileLineAndReason() {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try table(bytes); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(Array("a,b\n1,\"2\n3,4\n".utf8)), "in.csv: line 2: a quoted field is never closed (a \" without its closing \")")
        XCTAssertEqual(message(Array("a,b\n1,2\n1,2,3\n".utf8)),
                       "in.csv: line 3: 3 fields, the header has 2 (delimiter ','; quote fields that contain it)")
        XCTAssertEqual(message(Array("a,b\n1,2\n".utf8) + [0xE9, 0x0A]),
                       "in.csv: line 3 is not UTF-8 text (save the file as \"CSV UTF-8\")")
        XCTAssertEqual(message([]), "in.csv: empty file: no header line")
        XCTAssertTrue(message(Array("a;b\n1;2\n".utf8)).contains("no error"))
    }

    func testMetricsReadAnExcelFileAsTheyReadAPlainOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("plain.csv"), excel = dir.appendingPathComponent("excel.csv")
        try "score,label,sex\n0.25,1,F\n0.75,0,M\n0.5,1,F\n0.125,0,M\n".write(to: plain, atomically: true, encoding: .utf8)
        try Data([0xEF, 0xBB, 0xBF] + Array("\"score\";\"label\";\"sex\"\r\n0,25;1;F\r\n0,75;0;M\r\n0,5;1;F\r\n0,125;0;M\r\n".utf8))
            .write(to: excel)
        let a = try MetricsReport.load(csv: plain.path, scoreColumn: "score", labelColumn: "label", groupColumns: ["sex"], threshold: 0.5, bins: 15)
        let b = try MetricsReport.load(csv: excel.path, scoreColumn: "score", labelColumn: "label", groupColumns: ["sex"], threshold: 0.5, bins: 15)
        XCTAssertEqual(b.evaluation.scores, [0.25, 0.75, 0.5, 0.125])
        XCTAssertEqual(b.evaluation.scores, a.evaluation.scores)
        XCTAssertEqual(b.evaluation.labels, a.evaluation.labels)
        XCTAssertEqual(b.json().summary, a.json().summary)
        XCTAssertEqual(Set(b.groups["sex"]!.keys), ["F", "M"])
    }
}
