"""Sentence templates of the synthetic demo corpus.

Each score has five opinion levels (0 = very low ... 4 = very high). Some templates state
the opinion through a negation of its opposite, so a keyword counter cannot read every
sentence right, but a scorer that understands the sentence can. Placeholders: {s} is a
name for the alliance, {c} a member country, {w} a weekday.
"""

from __future__ import annotations

ALLIANCE_NAMES = ["NATO", "the alliance", "the Atlantic alliance", "NATO"]
COUNTRIES = [
    "Germany", "France", "Poland", "Turkey", "Hungary", "Italy", "Spain", "Canada",
    "the United States", "the United Kingdom", "Norway", "Finland", "Sweden", "Estonia",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

OPINION: dict[str, list[list[str]]] = {
    "sentiment": [
        [
            "{s} is a dangerous relic that does far more harm than good.",
            "Critics call {s} an aggressive bloc that should be dismantled.",
            "Many now see {s} as a costly failure that makes everyone less safe.",
            "The piece argues that {s} is reckless, provocative and illegitimate.",
        ],
        [
            "Support for {s} is slipping as doubts about its purpose grow.",
            "Commentators were sceptical of {s} and questioned what it achieves.",
            "{s} faced harsh criticism over its spending and its mission.",
            "Voters in {c} have grown wary of {s} and its demands.",
        ],
        [
            "Opinions on {s} remain mixed, with praise and criticism in equal measure.",
            "Analysts described {s} in neutral terms, weighing costs against benefits.",
            "Some welcome {s}'s role while others question it, and the debate is balanced.",
            "The report takes no side on whether {s} is good or bad for {c}.",
        ],
        [
            "{s} is widely seen as a useful partnership that serves its members well.",
            "Officials in {c} praised {s} for its steady contribution to security.",
            "Most experts view {s} favourably and expect it to stay relevant.",
            "Public approval of {s} rose again in {c} this spring.",
        ],
        [
            "{s} is hailed as the most successful alliance in history.",
            "Leaders celebrated {s} as an indispensable guarantor of peace and freedom.",
            "Admiration for {s} has never been stronger, and support is overwhelming.",
            "Citizens in {c} overwhelmingly say {s} keeps them safe and deserves support.",
        ],
    ],
    "unity": [
        [
            "The allies are bitterly divided and openly feuding with one another.",
            "{c} threatened to leave {s} as the rift between members deepened.",
            "Members of {s} blocked each other's proposals in an unusually hostile meeting.",
            "The split inside {s} is now so deep that joint action looks impossible.",
        ],
        [
            "Disagreements among the allies over burden sharing are growing.",
            "{c} broke ranks with other members of {s} on the new plan.",
            "Tensions between {c} and its partners in {s} are surfacing again.",
            "Members of {s} struggled to agree on a joint statement this week.",
        ],
        [
            "Allies agree on some points but still differ on others.",
            "Members of {s} are neither united nor split; the picture is mixed.",
            "The talks between the allies produced partial agreement and some friction.",
            "On balance the cohesion of {s} looks unchanged from last month.",
        ],
        [
            "The allies found common ground and agreed on a joint plan.",
            "Members of {s} largely closed ranks behind the proposal from {c}.",
            "Officials said cooperation among the allies has improved.",
            "{c} and its partners in {s} presented a coordinated position.",
        ],
        [
            "The allies stand fully united and speak with one voice.",
            "Members of {s} acted together in a remarkable show of solidarity.",
            "Every member of {s} signed on, presenting a completely united front.",
            "Unity within {s} is at a historic high, with all allies in lockstep.",
        ],
    ],
    "article5_trust": [
        [
            "Few believe that Article 5 would be honoured if {c} were attacked.",
            "The mutual defence pledge is dismissed as an empty promise nobody would keep.",
            "Experts warn that allies would abandon a member under attack.",
            "Confidence in the collective defence guarantee of {s} has collapsed.",
        ],
        [
            "Doubts are growing that allies would come to the defence of {c}.",
            "Officials in {c} quietly question whether Article 5 would really be invoked.",
            "The credibility of the collective defence commitment has weakened.",
            "Some allies hedged when asked if they would defend {c}.",
        ],
        [
            "Whether Article 5 would be honoured remains an open question.",
            "Views on the collective defence commitment are divided and uncertain.",
            "The strength of the Article 5 guarantee was debated without a clear conclusion.",
            "Analysts disagree about how allies would respond to an attack on {c}.",
        ],
        [
            "Allies reaffirmed that an attack on {c} would trigger a collective response.",
            "Most officials expect Article 5 to be honoured if it is ever invoked.",
            "The collective defence pledge of {s} looks credible to most observers.",
            "Leaders in {c} say they trust their partners to defend them.",
        ],
        [
            "Article 5 is ironclad: an attack on one ally would be answered by all.",
            "There is no doubt that every ally would rush to defend {c}.",
            "The collective defence guarantee of {s} is seen as absolutely unbreakable.",
            "Confidence that Article 5 would be honoured is total among the allies.",
        ],
    ],
}

# Negated opposites: the words of the other pole, the meaning of this one.
NEGATED: dict[str, dict[str, list[str]]] = {
    "sentiment": {
        "low": [
            "Nobody in {c} would call {s} a success any more.",
            "It is hard to find anyone who still praises {s}.",
        ],
        "high": [
            "Claims that {s} is useless do not hold up.",
            "It would be wrong to call {s} a threat to anyone.",
        ],
    },
    "unity": {
        "low": [
            "The allies are no longer acting as one.",
            "Nobody can claim that the members of {s} agree on anything now.",
        ],
        "high": [
            "Reports of a split among the allies turned out to be false.",
            "There was no sign of division between the members of {s}.",
        ],
    },
    "article5_trust": {
        "low": [
            "No one seriously expects the allies to defend {c} any longer.",
            "Article 5 is not something {c} can count on anymore.",
        ],
        "high": [
            "Fears that allies would abandon {c} are unfounded.",
            "No ally would dare to ignore an attack on {c}.",
        ],
    },
}

COMMENT_OPINION: dict[str, list[list[str]]] = {
    "sentiment": [
        ["NATO is a disaster, shut it down.", "honestly nato just makes everything worse"],
        ["Not a fan of NATO tbh.", "NATO keeps asking for money and gives nothing back"],
        ["NATO has pros and cons, hard to say.", "meh, NATO is fine I guess, mixed feelings"],
        ["NATO does a decent job overall.", "glad we are in NATO, it helps"],
        ["NATO is the best thing that ever happened to Europe!", "love NATO, thank god for it"],
    ],
    "unity": [
        ["The allies hate each other, this alliance is falling apart.", "total chaos, every member wants something different"],
        ["Looks like the allies can't agree on anything lately.", "more infighting between members again"],
        ["Some allies agree, some don't, same as always.", "the members are kind of split and kind of not"],
        ["Nice to see the allies getting along for once.", "good to see members working together"],
        ["Allies totally united, never seen them this together!", "all members in lockstep, great"],
    ],
    "article5_trust": [
        ["Article 5 is worthless, nobody would actually fight.", "no way anyone defends the Baltics, forget it"],
        ["I doubt Article 5 would hold up in a real attack.", "not sure allies would really show up"],
        ["Would Article 5 work? Who knows.", "no idea if the allies would actually respond"],
        ["Pretty sure Article 5 would be honoured.", "I think allies would respond if attacked"],
        ["Article 5 is rock solid, attack one and you fight all.", "100% the allies would defend any member"],
    ],
}

FILLER = [
    "The meeting took place in Brussels on {w}.",
    "Ministers from {c} arrived late because of bad weather.",
    "The talks lasted several hours and ended after dinner.",
    "Energy prices in {c} rose again this month.",
    "Local elections in {c} are expected next year.",
    "The press conference was broadcast live on several channels.",
    "Shipping through the Baltic Sea continued as normal.",
    "A new defence procurement office opened in {c}.",
    "Several journalists asked follow-up questions about the budget.",
    "The next round of talks is scheduled for {w}.",
]

OFF_TOPIC_TEXT = [
    "The football season in {c} opened with a surprise win for the home side.",
    "A heatwave is expected across southern Europe later this week.",
    "Tech shares rallied on {w} after strong quarterly earnings.",
    "The film festival announced its line-up, with several debut directors.",
    "Train strikes in {c} disrupted commuters for a second day.",
    "A new recipe book on Mediterranean cooking topped the charts.",
]

OFF_TOPIC_COMMENTS = [
    "first!", "great video, subscribed", "who is watching this in 2026?", "audio is too quiet",
    "lol", "source?", "this thread is wild", "thanks for posting",
]

TITLES: dict[str, list[str]] = {
    "sentiment": [
        "Why {s} has lost its way", "Growing doubts about {s}", "{s}: a mixed record",
        "{s} wins new supporters in {c}", "{s} celebrated as cornerstone of security",
    ],
    "unity": [
        "Allies at war with each other", "Rifts appear among the allies",
        "Allies meet amid cautious talks", "Allies close ranks", "Allies show rare unity",
    ],
    "article5_trust": [
        "Is Article 5 dead?", "Doubts over collective defence", "Article 5 under debate",
        "Allies reaffirm defence pledge", "Article 5 stronger than ever",
    ],
}
OFF_TOPIC_TITLES = ["Weekend roundup", "Markets in brief", "Culture notes", "Around the region"]
