"""A tiny hand-written labelled corpus: meeting requests (1) and other mail (0)."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

MEETINGS = [
    "Can we meet on Tuesday to go over the budget? Where should we meet?",
    "Let's schedule a meeting next week about the pipeline contract.",
    "Are you free for a call at 3pm tomorrow to discuss the deal?",
    "Please set up a meeting with the legal team on Friday.",
    "Could we meet for lunch on Thursday and talk about the hiring plan?",
    "I'd like to schedule time with you to review the trading numbers.",
    "What time works for you to meet about the gas storage project?",
    "Let's get together Monday morning to plan the conference agenda.",
    "Can you join a conference call on Wednesday at 10am?",
    "Please book the board room for our meeting with the auditors.",
    "When are you available to meet with the California team?",
    "Shall we schedule a quick call to go over the term sheet?",
    "Let's meet at the office at noon to walk through the model.",
    "Are you around this afternoon for a short meeting on the budget?",
    "Please find a time next week when we can all meet in Houston.",
    "I would like to set up a call with you and Mark on Tuesday.",
]

OTHERS = [
    "Attached is the final version of the quarterly report.",
    "Thanks for sending the spreadsheet, the numbers look right.",
    "The gas prices in California rose again this morning.",
    "Here is the article about the energy crisis I mentioned.",
    "Congratulations on the new role, well deserved!",
    "The contract was signed yesterday and filed with legal.",
    "Please review the attached draft and send comments.",
    "FYI the server will be down for maintenance tonight.",
    "The trading desk closed the position at a small profit.",
    "Our press release went out this morning to all wires.",
    "The regulators published their decision on price caps.",
    "I forwarded the invoice to accounts payable.",
    "Happy birthday! Hope you have a great weekend.",
    "The storage numbers for last month are in the shared drive.",
    "Here are my notes from the trip to Portland.",
    "The auditors sent their report on the pipeline project.",
    "Your expense report has been approved.",
    "Newsletter: energy markets weekly summary.",
    "Please update your password before Friday.",
    "The hiring committee picked a candidate for the analyst role.",
    "Thanks again for the help with the budget spreadsheet.",
    "Legal says the term sheet is fine as drafted.",
    "The conference agenda is attached for your information.",
    "Here is the link to the weather forecast for Houston.",
]


def texts_and_labels():
    """(documents, 0/1 labels) of the corpus."""
    documents = MEETINGS + OTHERS
    labels = np.array([1] * len(MEETINGS) + [0] * len(OTHERS))
    return documents, labels


def tfidf_corpus():
    """(X, y, feature_names, fitted vectorizer) of the corpus with unigrams and bigrams."""
    documents, labels = texts_and_labels()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    X = vectorizer.fit_transform(documents)
    return X, labels, list(vectorizer.get_feature_names_out()), vectorizer
