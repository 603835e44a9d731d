// QEMU's socket-monitor line editor, byte for byte. The expected echo sequences were captured
// from qemu-system-x86_64 7.2 (-monitor unix:...), e.g. typing "in" gives "i\e[K\e[Din\e[K".
#include "monitor/hmp_line_editor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace migemu::monitor {
namespace {

using ::testing::ElementsAre;

class HmpLineEditorTest : public ::testing::Test {
 protected:
  HmpLineEditorTest()
      : editor_({[this](absl::string_view s) { out_.append(s.data(), s.size()); },
                 [this](const std::string& line) { lines_.push_back(line); },
                 [this](absl::string_view line) {
                   completed_.emplace_back(line);
                   return completion_;
                 }}) {}

  std::string Type(absl::string_view bytes) {
    out_.clear();
    for (char c : bytes) {
      editor_.HandleByte(static_cast<unsigned char>(c));
    }
    return out_;
  }

  std::string out_;
  std::vector<std::string> lines_;
  std::vector<std::string> completed_;
  HmpCompletion completion_;
  HmpLineEditor editor_;
};

TEST_F(HmpLineEditorTest, EchoRedrawsTheLineAfterEachKey) {
  EXPECT_EQ(Type("in"), "i\033[K\033[Din\033[K");
  EXPECT_EQ(Type("\r"), "\n");
  EXPECT_THAT(lines_, ElementsAre("in"));
  EXPECT_EQ(editor_.line(), "");
}

TEST_F(HmpLineEditorTest, PromptAndLineFeedAlsoEndALine) {
  editor_.ShowPrompt();
  EXPECT_EQ(out_, "(qemu) ");
  Type("a\nb\r\n");
  // "\r\n" is two line ends: the second gives an empty line, as in QEMU.
  EXPECT_THAT(lines_, ElementsAre("a", "b", ""));
}

TEST_F(HmpLineEditorTest, CursorMovementAndEditing) {
  Type("abd");
  EXPECT_EQ(Type("\033[D"), "\033[D");
  EXPECT_EQ(editor_.cursor(), 2u);
  // Inserting in the middle redraws from the line start and steps back to the cursor.
  EXPECT_EQ(Type("c"), "\033[D\033[Dabcd\033[K\033[D");
  Type("\x01");  // ^A
  EXPECT_EQ(editor_.cursor(), 0u);
  Type("\x04");  // ^D deletes under the cursor; it is never EOF here
  EXPECT_EQ(editor_.line(), "bcd");
  Type("\x05\x7f");  // ^E, backspace
  EXPECT_EQ(editor_.line(), "bc");
  Type("\033[1~");  // Home
  EXPECT_EQ(editor_.cursor(), 0u);
  Type("\033[3~");  // Delete
  EXPECT_EQ(editor_.line(), "c");
  Type("\033OF");  // End (SS3)
  EXPECT_EQ(editor_.cursor(), 1u);
  Type(" two words\x17");  // ^W
  EXPECT_EQ(editor_.line(), "c two ");
  Type("\x15");  // ^U: not an editing key in QEMU, ignored
  EXPECT_EQ(editor_.line(), "c two ");
}

TEST_F(HmpLineEditorTest, HistoryUpDownAndRepeatedLinesMoveToTheEnd) {
  Type("one\rtwo\rone\r");
  EXPECT_THAT(editor_.History(), ElementsAre("two", "one"));
  Type("\033[A");
  EXPECT_EQ(editor_.line(), "one");
  Type("\033[A");
  EXPECT_EQ(editor_.line(), "two");
  Type("\033[A");  // already the oldest
  EXPECT_EQ(editor_.line(), "two");
  Type("\033[B");
  EXPECT_EQ(editor_.line(), "one");
  Type("\033[B");
  EXPECT_EQ(editor_.line(), "");
  Type("\r");  // empty lines are not remembered
  EXPECT_THAT(editor_.History(), ElementsAre("two", "one"));
}

TEST_F(HmpLineEditorTest, HistoryKeepsTheLast64Lines) {
  for (int i = 0; i < 70; ++i) {
    Type("c" + std::to_string(i) + "\r");
  }
  ASSERT_EQ(editor_.History().size(), HmpLineEditor::kMaxHistory);
  EXPECT_EQ(editor_.History().front(), "c6");
  EXPECT_EQ(editor_.History().back(), "c69");
}

TEST_F(HmpLineEditorTest, CompletionOfOneWordAddsASpace) {
  completion_ = {2, {"status"}};
  Type("info st");
  std::string back;
  for (int i = 0; i < 7; ++i) {
    back += "\033[D";
  }
  EXPECT_EQ(Type("\t"), back + "info status \033[K");
  EXPECT_THAT(completed_, ElementsAre("info st"));
  EXPECT_EQ(editor_.line(), "info status ");
}

TEST_F(HmpLineEditorTest, CompletionOfSeveralWordsListsThemInColumns) {
  completion_ = {9, {"migrate_start_postcopy", "migrate_set_parameter", "migrate_set_capability"}};
  Type("migrate_s");
  // Captured from QEMU: the list in 24-column cells (longest + 2), three to a row, then the
  // prompt and the line again.
  EXPECT_EQ(Type("\t"),
            "\nmigrate_set_capability  migrate_set_parameter   migrate_start_postcopy  \n"
            "(qemu) migrate_s\033[K");
  completion_ = {0, {"a", "bb"}};
  Type("\x15");
  // Short words get 10-column cells.
  EXPECT_EQ(Type("\t").substr(0, 22), "\na         bb        \n");
}

TEST_F(HmpLineEditorTest, CompletionInsertsTheCommonPrefix) {
  completion_ = {3, {"migrate_cancel", "migrate_continue"}};
  Type("mig");
  Type("\t");
  EXPECT_EQ(editor_.line(), "migrate_c");
}

TEST_F(HmpLineEditorTest, ClearScreenRedrawsPromptAndLine) {
  Type("ab");
  EXPECT_EQ(Type("\x0c"), "\033[2J\033[1;1H(qemu) ab\033[K");
}

TEST_F(HmpLineEditorTest, LinesAreBounded) {
  Type(std::string(HmpLineEditor::kMaxLine + 10, 'x'));
  EXPECT_EQ(editor_.line().size(), HmpLineEditor::kMaxLine);
}

}  // namespace
}  // namespace migemu::monitor
