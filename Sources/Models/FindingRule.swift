/// One finding a head reports per image: which output's probability it reads, and the
/// `DecisionRule` that turns that (calibrated) probability into a decision.
///
/// A single-label (softmax) head reports one finding, named `""` in results (the head is the
/// finding), read from its positive class and decided as that class or the other one, exactly as
/// `ModelCard.decisionRule` says. A multi-label (sigmoid) head reports every finding its card
/// lists under `scoring.findings`, each read from the output of the class with its name and decided
/// `present` or `absent` at its own threshold.
public struct FindingRule: Sendable, Equatable {
    /// The decisions of a multi-label head's findings.
    public static let present = "present", absent = "absent"

    /// The finding's name as results store it: `""` for a single-label head's one finding.
    public var name: String
    /// The output (index into the card's classes) whose probability is the finding's.
    public var output: Int
    public var rule: DecisionRule
    /// What the SR codes a multi-label finding as (nil: a private code; single-label heads use the
    /// card's `scoring.finding_code`).
    public var code: ModelCard.Scoring.Code?

    public init(name: String, output: Int, rule: DecisionRule, code: ModelCard.Scoring.Code? = nil) {
        self.name = name
        self.output = output
        self.rule = rule
        self.code = code
    }
}

extension ModelCard {
    /// The findings this head reports, checked against its classes: a single-label card needs
    /// `positive_class` (one of `classes`) and `threshold` and no `findings`; a multi-label card
    /// (`"output": "sigmoid"`) needs `findings`, each naming exactly one class (classes without a
    /// finding, e.g. TorchXRayVision's empty placeholders, are not reported), names unique,
    /// thresholds in [0, 1], and neither `positive_class` nor `threshold`. `file` names the card in errors.
    public func findingRules(file: String) throws -> [FindingRule] {
        guard let scoring else { throw ModelError(file: file, reason: "not a task head: no scoring in its card") }
        let classes = self.classes ?? []
        guard isMultiLabel else {
            if scoring.findings != nil {
                throw ModelError(file: file, reason: "scoring.findings is for multi-label heads (\"output\": \"sigmoid\"); this card's output is \(output ?? "softmax")")
            }
            guard let rule = decisionRule, let positive = classes.firstIndex(of: rule.positive) else {
                throw ModelError(file: file, reason: "positive class \(scoring.positiveClass ?? "(none)") not among its classes, or no threshold")
            }
            return [FindingRule(name: "", output: positive, rule: rule)]
        }
        if scoring.positiveClass != nil || scoring.threshold != nil {
            throw ModelError(file: file, reason: "a multi-label (sigmoid) card decides per finding: remove scoring.positive_class and scoring.threshold and give each finding its threshold in scoring.findings")
        }
        guard let findings = scoring.findings, !findings.isEmpty else {
            throw ModelError(file: file, reason: "a multi-label (sigmoid) card needs scoring.findings: [{\"name\", \"threshold\"}, …]")
        }
        var seen = Set<String>()
        return try findings.map { f in
            guard !f.name.isEmpty else { throw ModelError(file: file, reason: "a finding in scoring.findings has no name") }
            guard seen.insert(f.name).inserted else { throw ModelError(file: file, reason: "finding \(f.name) is listed twice") }
            let outputs = classes.indices.filter { classes[$0] == f.name }
            guard outputs.count == 1 else {
                throw ModelError(file: file, reason: "finding \(f.name) must name exactly one of the card's classes (found \(outputs.count))")
            }
            guard f.threshold.isFinite, (0...1).contains(f.threshold) else {
                throw ModelError(file: file, reason: "finding \(f.name): threshold \(f.threshold) is not in [0, 1]")
            }
            return FindingRule(name: f.name, output: outputs[0],
                               rule: DecisionRule(threshold: f.threshold, positive: FindingRule.present, negative: FindingRule.absent),
                               code: f.code)
        }
    }
}
